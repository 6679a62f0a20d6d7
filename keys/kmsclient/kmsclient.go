// Package kmsclient chooses the Tink KMS client for a root-key URI, so that
// the key hierarchy can be rooted in an external KMS:
//
//	hcvault://HOST[:PORT]/MOUNT/keys/NAME   HashiCorp Vault or OpenBao transit
//	aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID
//	gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K
//
// local:// needs no client: package keys has it built in. Credentials come
// from the environment each KMS's own tools read:
//
//   - Vault: VAULT_TOKEN (required), VAULT_ADDR (optional; its scheme, e.g.
//     http:// for a dev server, is used and its host must match the URI's),
//     VAULT_CACERT, VAULT_NAMESPACE, VAULT_MAX_RETRIES, VAULT_CLIENT_TIMEOUT.
//     The transit key must be of type aes256-gcm96 and not derived: the KEK
//     is wrapped with associated data, which Vault binds with
//     "associated_data".
//   - AWS: the SDK's default chain (AWS_ACCESS_KEY_ID and
//     AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role, ...).
//   - Google Cloud: Application Default Credentials
//     (GOOGLE_APPLICATION_CREDENTIALS, or the metadata server).
//
// Errors of the returned AEADs that mean the KMS could not be reached or
// refused to serve (network failures, HTTP 401/403/429/5xx, gRPC
// Unavailable, PermissionDenied, Unauthenticated, DeadlineExceeded) wrap
// keys.ErrRootUnavailable, so that a server whose KMS is down at start says
// so plainly instead of suspecting the wrong key. No error holds a token or
// key material.
package kmsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go-awskms/v2/integration/awskms"
	"github.com/tink-crypto/tink-go-gcpkms/v2/integration/gcpkms"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/localkms"
)

// URI schemes of the external KMSs.
const (
	VaultPrefix = "hcvault://"
	AWSPrefix   = "aws-kms://"
	GCPPrefix   = "gcp-kms://"
)

// ErrConfig: the URI or the credentials in the environment are unusable;
// the message says which variable or part to fix.
var ErrConfig = errors.New("kmsclient: KMS configuration")

// For returns the KMS client for uri, configured from getenv (os.Getenv in
// production), or nil for local:// (built into package keys) and for an
// empty URI (the store's default local root). It makes no network call:
// the first one is keys.Open's unwrap of the KEK. Pass the client to
// keys.Options.WithKMSClient.
func For(ctx context.Context, uri string, getenv func(string) string) (registry.KMSClient, error) {
	switch {
	case uri == "" || strings.HasPrefix(uri, localkms.Prefix):
		return nil, nil
	case strings.HasPrefix(uri, VaultPrefix):
		return vault(uri, getenv)
	case strings.HasPrefix(uri, AWSPrefix):
		c, err := awskms.NewClientWithOptions(uri)
		if err != nil {
			return nil, fmt.Errorf("%w: aws-kms URI %q: %v; use aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID", ErrConfig, uri, err)
		}
		return classified{c}, nil
	case strings.HasPrefix(uri, GCPPrefix):
		c, err := gcpkms.NewClient(ctx, uri)
		if err != nil {
			return nil, fmt.Errorf("%w: gcp-kms client: %v; set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run where Application Default Credentials are available", ErrConfig, err)
		}
		return classified{c}, nil
	}
	scheme, _, _ := strings.Cut(uri, "://")
	return nil, fmt.Errorf("%w: unsupported KMS URI scheme %q; use local://, hcvault://, aws-kms:// or gcp-kms://", ErrConfig, scheme+"://")
}

// vault builds a Vault transit client for uri.
func vault(uri string, getenv func(string) string) (registry.KMSClient, error) {
	u, err := url.Parse(uri)
	if err != nil || !strings.Contains(u.EscapedPath(), "/keys/") {
		return nil, fmt.Errorf("%w: hcvault URI %q is not hcvault://HOST[:PORT]/MOUNT/keys/NAME, e.g. hcvault://vault.example.com:8200/transit/keys/featurevault", ErrConfig, uri)
	}
	token := getenv("VAULT_TOKEN")
	if token == "" {
		return nil, fmt.Errorf("%w: VAULT_TOKEN is not set; set it to a Vault token allowed to use %s", ErrConfig, u.EscapedPath())
	}
	addr := getenv("VAULT_ADDR")
	switch {
	case addr == "" && u.Host == "":
		return nil, fmt.Errorf("%w: hcvault URI %q names no host and VAULT_ADDR is not set", ErrConfig, uri)
	case addr == "":
		addr = "https://" + u.Host
	case u.Host != "":
		a, err := url.Parse(addr)
		if err != nil || a.Host != u.Host {
			return nil, fmt.Errorf("%w: VAULT_ADDR %q does not name the host of the KMS URI (%s); make them agree", ErrConfig, addr, u.Host)
		}
	}
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("%w: Vault environment: %v", ErrConfig, cfg.Error)
	}
	cfg.Address = addr
	cfg.Timeout = 15 * time.Second
	if v := getenv("VAULT_CLIENT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%w: VAULT_CLIENT_TIMEOUT %q is not a duration such as 15s", ErrConfig, v)
		}
		cfg.Timeout = d
	}
	if v := getenv("VAULT_MAX_RETRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: VAULT_MAX_RETRIES %q is not a count", ErrConfig, v)
		}
		cfg.MaxRetries = n
	}
	if ca := getenv("VAULT_CACERT"); ca != "" {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: ca}); err != nil {
			return nil, fmt.Errorf("%w: VAULT_CACERT %s: %v", ErrConfig, ca, err)
		}
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: Vault client for %s: %v", ErrConfig, addr, err)
	}
	c.SetToken(token)
	if ns := getenv("VAULT_NAMESPACE"); ns != "" {
		c.SetNamespace(ns)
	}
	kc, err := hcvault.NewClientWithAEADOptions(VaultPrefix, c.Logical())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return classified{kc}, nil
}

// classified wraps a KMS client so that its AEADs mark unavailability.
type classified struct{ registry.KMSClient }

func (c classified) GetAEAD(uri string) (tink.AEAD, error) {
	a, err := c.KMSClient.GetAEAD(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, uri, err)
	}
	return classifiedAEAD{a}, nil
}

type classifiedAEAD struct{ tink.AEAD }

func (a classifiedAEAD) Encrypt(plaintext, ad []byte) ([]byte, error) {
	ct, err := a.AEAD.Encrypt(plaintext, ad)
	return ct, classify(err)
}

func (a classifiedAEAD) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	pt, err := a.AEAD.Decrypt(ciphertext, ad)
	return pt, classify(err)
}

// classify wraps err with keys.ErrRootUnavailable when it means the KMS
// could not be reached or refused to serve, rather than that it rejected the
// ciphertext.
func classify(err error) error {
	if err == nil || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", keys.ErrRootUnavailable, err)
}

func unavailable(err error) bool {
	refused := func(code int) bool { return code == 401 || code == 403 || code == 429 || code >= 500 }
	var re *api.ResponseError
	if errors.As(err, &re) {
		return refused(re.StatusCode)
	}
	var sc interface{ StatusCode() int } // AWS SDK request failures
	if errors.As(err, &sc) {
		return refused(sc.StatusCode())
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		switch s.Code() {
		case codes.Unavailable, codes.PermissionDenied, codes.Unauthenticated, codes.DeadlineExceeded:
			return true
		}
		return false
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return true
	}
	var orig interface{ OrigErr() error } // AWS SDK v1 wraps without Unwrap
	if errors.As(err, &orig) && orig.OrigErr() != nil && orig.OrigErr() != err {
		return unavailable(orig.OrigErr())
	}
	return false
}
