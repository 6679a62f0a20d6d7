package backup_test

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/featurevault/featurevault/backup"
	"github.com/featurevault/featurevault/kv"
)

// source is a store directory of three real Badger databases, one per part.
type source map[backup.Part]*kv.Badger

func newSource(t *testing.T) source {
	t.Helper()
	dir := t.TempDir()
	s := source{}
	for _, p := range backup.Parts() {
		db, err := kv.OpenBadger(kv.DefaultOptions(filepath.Join(dir, string(p))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		s[p] = db
	}
	return s
}

func (s source) set(t *testing.T, p backup.Part, kvs ...string) {
	t.Helper()
	var ops []kv.Op
	for i := 0; i < len(kvs); i += 2 {
		ops = append(ops, kv.Op{Key: []byte(kvs[i]), Value: []byte(kvs[i+1])})
	}
	if err := s[p].Apply(ops); err != nil {
		t.Fatal(err)
	}
}

// backUp writes a backup of every part of s into a new directory, each
// part since the NextSince of prev (nil: a full backup), as the CLI does
// with what the server streams.
func (s source) backUp(t *testing.T, prev *backup.Manifest) (string, *backup.Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "backup")
	if err := backup.PrepareOutput(dir); err != nil {
		t.Fatal(err)
	}
	m := &backup.Manifest{Format: backup.FormatVersion, Created: time.Now().UTC(), LocalKMS: true}
	for _, p := range backup.Parts() {
		var since uint64
		if prev != nil {
			a, _ := prev.Part(p)
			since = a.NextSince
		}
		w, err := backup.CreateArtifact(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		next, err := s[p].Backup(w, since)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		m.Parts = append(m.Parts, backup.Artifact{Part: p, File: p.File(), Since: since, NextSince: next, Size: w.Size(), SHA256: w.SHA256(), Created: time.Now().UTC()})
	}
	if err := backup.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// contents returns every entry of the Badger database in dir.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	db, err := kv.OpenBadger(kv.DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	if err := db.Scan(nil, func(e kv.Entry) error {
		out[string(e.Key)] = string(e.Value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// tree lists every path under dir with its size, to show that a refused
// restore changed nothing.
func tree(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && path == dir {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(a, b map[string]int64) bool { return maps.Equal(a, b) }
