package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/store"
)

// TestOpenRefusesMissingOrDamagedKeys checks the server's start-up path
// refuses, and says why, when the keys that protect existing data are
// gone or damaged — and never creates fresh keys over existing data.
func TestOpenRefusesMissingOrDamagedKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"root key file missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "kms", "root.json")); err != nil {
				t.Fatal(err)
			}
		}, "root.json"},
		{"root key file corrupted", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "kms", "root.json"), []byte(`{"primaryKeyId": 1, "key": [`), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "root.json"},
		{"root key file replaced by another key", func(t *testing.T, dir string) {
			other := t.TempDir()
			s := openStore(t, other)
			s.Close()
			b, err := os.ReadFile(filepath.Join(other, "kms", "root.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "kms", "root.json"), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "KEK"},
		{"keystore deleted", func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "keystore")); err != nil {
				t.Fatal(err)
			}
		}, "refusing to create"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			if _, err := s.Write(t.Context(), "profile", []store.Row{{EntityKey: "c-1", Values: map[string]any{"age": int64(1)}}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, dir)
			before := listDir(t, dir)
			s, err := store.Open(context.Background(), store.DefaultOptions(dir).WithLogger(quietLog))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded over missing or damaged keys")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if _, statErr := os.Stat(filepath.Join(dir, "kms", "root.json")); tc.name == "root key file missing" && statErr == nil {
				t.Error("a fresh root key file was created over existing data")
			}
			if after := listDir(t, dir); tc.name != "keystore deleted" && after != before {
				t.Errorf("files changed by a refused open:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// listDir names the key files (under kms/) in dir, to check a refused open
// created or removed none.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.Contains(p, "kms") {
			b.WriteString(p + " ")
		}
		return nil
	})
	return b.String()
}
