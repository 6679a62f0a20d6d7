package kv

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestOpenAfterAnEmptyLogWasLeftBehind puts the empty memtable log and the
// empty value log a power cut leaves (created, never sized) beside a
// store's files: Badger alone refuses to open the directory; OpenBadger
// removes them, says so, and opens with every committed write intact.
func TestOpenAfterAnEmptyLogWasLeftBehind(t *testing.T) {
	for _, name := range []string{"00099.mem", "000099.vlog"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := OpenBadger(DefaultOptions(dir))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Apply([]Op{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			empty := filepath.Join(dir, name)
			if err := os.WriteFile(empty, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			// Badger's own open is tried on a copy: a failed attempt sizes
			// the empty file, after which a second attempt would pass.
			bare := t.TempDir()
			if err := os.CopyFS(bare, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			if raw, err := badger.Open(badger.DefaultOptions(bare).WithLogger(nil)); err == nil {
				raw.Close()
				t.Fatal("Badger opened the directory with an empty log in it; this test no longer shows anything")
			}
			var logs bytes.Buffer
			db, err = OpenBadger(DefaultOptions(dir).WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatalf("open with an empty %s: %v", name, err)
			}
			defer db.Close()
			got, err := db.Get([][]byte{[]byte("k")})
			if err != nil || string(got[0]) != "v" {
				t.Fatalf("k = %q, %v; want v", got[0], err)
			}
			if !strings.Contains(logs.String(), "removed an empty log file") || !strings.Contains(logs.String(), name) {
				t.Errorf("log %q does not say which empty log was removed", logs.String())
			}
		})
	}
}
