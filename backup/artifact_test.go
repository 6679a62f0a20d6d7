package backup_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/backup"
)

func TestArtifactAppearsOnlyOnCommitWithMode0600(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	if err := backup.PrepareOutput(dir); err != nil {
		t.Fatal(err)
	}
	w, err := backup.CreateArtifact(dir, backup.PartKeystore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("wrapped keys")); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(dir, "keystore.fvbackup")
	if _, err := os.Stat(final); !os.IsNotExist(err) {
		t.Errorf("before Commit, %s: %v; want it not to exist", final, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(final)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 12 {
		t.Fatalf("after Commit, %s: %v, mode %v, size %d; want mode 0600, 12 bytes", final, err, st.Mode().Perm(), st.Size())
	}
	sum := sha256.Sum256([]byte("wrapped keys"))
	if got, want := w.SHA256(), hex.EncodeToString(sum[:]); got != want || w.Size() != 12 {
		t.Errorf("SHA256() = %q, Size() = %d; want %q, 12", got, w.Size(), want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries after Commit; want only the artifact (no temporary file left)", len(entries))
	}

	a, err := backup.CreateArtifact(dir, backup.PartAudit)
	if err != nil {
		t.Fatal(err)
	}
	a.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("Abort left %d entries; want the directory as it was", len(entries))
	}
	if err := backup.PrepareOutput(dir); !errors.Is(err, backup.ErrOutputExists) || !strings.Contains(err.Error(), "keystore.fvbackup") {
		t.Errorf("PrepareOutput of a directory holding a backup: %v; want ErrOutputExists naming the artifact", err)
	}
}

func TestParseParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"", "data,audit,keystore", false},
		{"keystore", "keystore", false},
		{"keystore, data,keystore", "data,keystore", false},
		{"data,keys", "", true},
		{"DATA", "", true},
	}
	for _, tt := range tests {
		got, err := backup.ParseParts(tt.in)
		var names []string
		for _, p := range got {
			names = append(names, string(p))
		}
		if strings.Join(names, ",") != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseParts(%q) = %v, %v; want %q, error %v", tt.in, names, err, tt.want, tt.wantErr)
		}
		if tt.wantErr && !errors.Is(err, backup.ErrUnknownPart) {
			t.Errorf("ParseParts(%q) error %v; want ErrUnknownPart", tt.in, err)
		}
	}
}
