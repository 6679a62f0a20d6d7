package kv_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

func TestSyncLogsKeepsWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := kv.OpenBadger(kv.DefaultOptions(dir).WithSyncWrites(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Apply([]kv.Op{{Key: []byte("k"), Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SyncLogs(); err != nil {
		t.Fatalf("SyncLogs: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = kv.OpenBadger(kv.DefaultOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Get([][]byte{[]byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0]) != "v" {
		t.Errorf("after SyncLogs and reopen: got %q, want %q", got[0], "v")
	}
}

func TestSyncLogsReportsAMissingDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := kv.OpenBadger(kv.DefaultOptions(dir).WithSyncWrites(false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(dir+".moved", dir)
	if err := db.SyncLogs(); err == nil {
		t.Error("SyncLogs with its directory gone: got nil, want an error")
	}
}

func TestSyncLogsInMemoryIsANoOp(t *testing.T) {
	t.Parallel()
	db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SyncLogs(); err != nil {
		t.Errorf("in memory: got %v, want nil", err)
	}
}
