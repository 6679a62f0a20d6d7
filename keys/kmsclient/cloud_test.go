package kmsclient_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/keys/kmsclient"
)

// The AWS and Google Cloud clients cannot reach their services from the
// build machines; these tests cover what happens before any call: URI
// selection and credential errors that say what to set.

func TestGCPWithoutCredentialsSaysWhatToSet(t *testing.T) { // not parallel: t.Setenv
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/featurevault-test-creds.json")
	_, err := kmsclient.For(t.Context(), "gcp-kms://projects/p/locations/global/keyRings/r/cryptoKeys/k", func(string) string { return "" })
	if !errors.Is(err, kmsclient.ErrConfig) || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("err %v; want ErrConfig naming GOOGLE_APPLICATION_CREDENTIALS", err)
	}
}

func TestAWSClientIsChosenForAnARN(t *testing.T) {
	t.Parallel()
	uri := "aws-kms://arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	c, err := kmsclient.For(t.Context(), uri, func(string) string { return "" })
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	if !c.Supported(uri) || c.Supported("hcvault://vault/transit/keys/k") {
		t.Errorf("the AWS client's Supported does not match its URI only")
	}
	if _, err := c.GetAEAD(uri); err != nil {
		t.Errorf("GetAEAD (no network call yet): %v", err)
	}
}
