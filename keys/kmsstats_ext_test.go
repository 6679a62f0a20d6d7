package keys_test

import (
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/localkms"
)

// TestStatsCountKMSCallsByKind checks that Stats counts the calls made to the
// KMS by kind (what the server's featurevault_kms_calls_total{op} exports)
// exactly as a client that counts them itself sees them, through creation,
// reopening and both rotations.
func TestStatsCountKMSCallsByKind(t *testing.T) {
	t.Parallel()
	uri, _ := localURI(t)
	ks := memKeystore(t)
	type calls struct{ getAEAD, wraps, unwraps uint64 }
	statsOf := func(k *keys.Keyring) calls {
		st := k.Stats()
		if st.KMSCalls != st.KMSGetAEAD+st.KMSWraps+st.KMSUnwraps {
			t.Errorf("Stats().KMSCalls = %d, want the sum of its kinds %d+%d+%d", st.KMSCalls, st.KMSGetAEAD, st.KMSWraps, st.KMSUnwraps)
		}
		return calls{st.KMSGetAEAD, st.KMSWraps, st.KMSUnwraps}
	}
	clientOf := func(c *countingClient) calls {
		return calls{uint64(c.getAEAD.Load()), uint64(c.encrypt.Load()), uint64(c.decrypt.Load())}
	}

	created := &countingClient{KMSClient: localkms.NewClient()}
	k, err := keys.Open(t.Context(), ks, quietOptions(uri).WithKMSClient(created).WithCreate(true))
	if err != nil {
		t.Fatalf("Open (create): %v", err)
	}
	if got, want := statsOf(k), clientOf(created); got != want || got.wraps == 0 {
		t.Errorf("after creating the KEK: Stats = %+v, the client counted %+v; want equal, with at least one wrap", got, want)
	}
	k.Close()

	reopened := &countingClient{KMSClient: localkms.NewClient()}
	k, err = keys.Open(t.Context(), ks, quietOptions(uri).WithKMSClient(reopened))
	if err != nil {
		t.Fatalf("Open (existing): %v", err)
	}
	defer k.Close()
	if got, want := statsOf(k), (calls{getAEAD: 1, unwraps: 1}); got != want {
		t.Errorf("after reopening: Stats = %+v, want %+v (one GetAEAD, one unwrap of the KEK)", got, want)
	}
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"RotateKEK", func() error { _, err := k.RotateKEK(t.Context()); return err }},
		{"RotateRoot", func() error { _, err := k.RotateRoot(t.Context(), false); return err }},
	} {
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got, want := statsOf(k), clientOf(reopened); got != want {
			t.Errorf("after %s: Stats = %+v, the client counted %+v", step.name, got, want)
		}
	}
	if got := statsOf(k); got.wraps == 0 {
		t.Errorf("after two rotations: Stats = %+v, want at least one wrap", got)
	}
}
