package localkms_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/featurevault/featurevault/keys/localkms"
)

func TestRotateAddsAPrimaryAndPruneDestroysTheRest(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "root.json")
	if err := localkms.Create(path); err != nil {
		t.Fatal(err)
	}
	a, err := localkms.NewClient().GetAEAD(localkms.Prefix + path)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := a.Encrypt([]byte("kek"), []byte("ad"))
	id, err := localkms.Rotate(path)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	info, err := localkms.Info(path)
	if err != nil || info.Primary != id || len(info.Versions) != 2 {
		t.Fatalf("Info after Rotate = %+v, %v; want 2 versions, primary %d", info, err, id)
	}
	if fi, _ := os.Stat(path); fi.Mode() != 0o600 {
		t.Errorf("mode after Rotate = %v; want 0600", fi.Mode())
	}
	b, _ := localkms.NewClient().GetAEAD(localkms.Prefix + path)
	if got, err := b.Decrypt(old, []byte("ad")); err != nil || string(got) != "kek" {
		t.Errorf("the rotated root does not decrypt what the old version wrapped: %q, %v", got, err)
	}
	fresh, _ := b.Encrypt([]byte("kek2"), []byte("ad"))
	if n, err := localkms.Prune(path); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1 version destroyed", n, err)
	}
	c, _ := localkms.NewClient().GetAEAD(localkms.Prefix + path)
	if _, err := c.Decrypt(old, []byte("ad")); err == nil {
		t.Errorf("the pruned root still decrypts what the destroyed version wrapped")
	}
	if got, err := c.Decrypt(fresh, []byte("ad")); err != nil || string(got) != "kek2" {
		t.Errorf("the pruned root does not decrypt what the primary wrapped: %q, %v", got, err)
	}
	if n, err := localkms.Prune(path); err != nil || n != 0 {
		t.Errorf("second Prune = %d, %v; want 0, nil", n, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files after rotation; want only the root file (no temporary left)", len(entries))
	}
}
