package keys_test

import (
	"context"
	"errors"
	"testing"

	"github.com/featurevault/featurevault/keys"
)

// TestSharedKeystoreServersSeeRotationAndErasure opens two keyrings on one
// keystore, as two servers on a shared store do. A subject created on A
// after A rotated the KEK unwraps on B without a restart; a subject A
// erases is gone on B once B forgets its cache, though B had it cached.
func TestSharedKeystoreServersSeeRotationAndErasure(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	a, ks := openNew(t, o)
	b, err := keys.Open(context.Background(), ks, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	a.SetShared(true)
	b.SetShared(true)

	biOld, _ := a.BlindIndex("customer", "c-1")
	aOld, _, err := a.SubjectAEAD("customer", biOld, true)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := aOld.Encrypt([]byte("v"), nil)
	if err != nil {
		t.Fatal(err)
	}
	bOld, _, err := b.SubjectAEAD("customer", biOld, false) // warm on B
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := bOld.Decrypt(ct, nil); err != nil || string(pt) != "v" {
		t.Fatalf("B decrypts A's value as %q, %v", pt, err)
	}

	if _, err := a.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	biNew, _ := a.BlindIndex("customer", "c-2")
	if _, _, err := a.SubjectAEAD("customer", biNew, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.SubjectAEAD("customer", biNew, false); err != nil {
		t.Errorf("B reads a subject key wrapped by A's new KEK version: %v; want it to reload the KEK", err)
	}
	sa, err := a.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.Versions) != 2 || len(sb.Versions) != len(sa.Versions) || sb.Versions[0].ID != sa.Versions[0].ID {
		t.Errorf("after the reload B's KEK versions are %+v, A's %+v", sb.Versions, sa.Versions)
	}

	if err := a.ForgetSubject("customer", biOld); err != nil {
		t.Fatal(err)
	}
	b.ForgetCached()
	if _, _, err := b.SubjectAEAD("customer", biOld, false); !errors.Is(err, keys.ErrSubjectNotFound) {
		t.Errorf("B reads a subject A erased: %v; want ErrSubjectNotFound", err)
	}
}
