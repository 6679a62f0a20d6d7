package keys_test

import (
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/localkms"
)

// TestRetireAgainAfterACrashMidRootRotationKeepsTheKEK puts the keystore in
// the state a crash leaves when it strikes RetireKEK between the root
// rotation's two steps — the local root file already has a new primary
// version, the stored KEK is still wrapped by the previous one — and then
// does what the operator is told to do after an interrupted retire:
// retire the same version again. The retry must leave a KEK that unwraps
// after a restart, with every subject readable and only one root version
// left; destroying the older root versions without re-wrapping the KEK
// first would make the whole keystore unreadable.
func TestRetireAgainAfterACrashMidRootRotationKeepsTheKEK(t *testing.T) {
	t.Parallel()
	uri, path := localURI(t)
	o := quietOptions(uri)
	k, ks := openNew(t, o)
	subjects := makeSubjects(t, k, 20)
	v1 := status(t, k).Versions[0].ID
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Rewrap(t.Context(), keys.RewrapOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.RetireKEK(t.Context(), v1); err != nil {
		t.Fatal(err)
	}
	// The crash: the root file rotated, the KEK not yet re-wrapped under
	// the new root version.
	if _, err := localkms.Rotate(path); err != nil {
		t.Fatal(err)
	}
	k.Close()

	k2 := reopen(t, ks, o) // the restart: the older root version still unwraps the KEK
	r, err := k2.RetireKEK(t.Context(), v1)
	if err != nil || !r.AlreadyRetired {
		t.Fatalf("retiring %d again = %+v, %v; want AlreadyRetired, nil", v1, r, err)
	}
	k2.Close()

	k3, err := keys.Open(t.Context(), ks, o)
	if err != nil {
		t.Fatalf("reopen after retiring again: %v; want the KEK to unwrap under the remaining root version", err)
	}
	t.Cleanup(func() { k3.Close() })
	checkDecrypt(t, k3, subjects)
	st := status(t, k3)
	if st.RootVersions != 1 || len(st.Versions) != 1 || st.Unattributed != 0 {
		t.Errorf("status after retiring again: %d root versions, %d KEK versions, %d unattributed keys; want 1, 1, 0", st.RootVersions, len(st.Versions), st.Unattributed)
	}
}
