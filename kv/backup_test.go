package kv_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

// openDisk opens a durable Badger store in a fresh temporary directory.
func openDisk(t *testing.T) *kv.Badger {
	t.Helper()
	db, err := kv.OpenBadger(kv.DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// contents returns every entry of s as a map.
func contents(t *testing.T, s kv.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.Scan(nil, func(e kv.Entry) error {
		out[string(e.Key)] = string(e.Value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func set(t *testing.T, s kv.Store, kvs ...string) {
	t.Helper()
	var ops []kv.Op
	for i := 0; i < len(kvs); i += 2 {
		ops = append(ops, kv.Op{Key: []byte(kvs[i]), Value: []byte(kvs[i+1])})
	}
	if err := s.Apply(ops); err != nil {
		t.Fatal(err)
	}
}

func TestBackupThenLoadRestoresEveryEntry(t *testing.T) {
	t.Parallel()
	src := openDisk(t)
	set(t, src, "a", "1", "b", "2", "c/x", "3")
	if err := src.Apply([]kv.Op{{Key: []byte("b"), Delete: true}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	next, err := src.Backup(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	if next == 0 {
		t.Errorf("Backup of a non-empty store returned next since 0; want the version after its last entry")
	}
	dst := openDisk(t)
	if err := dst.Load(&buf); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, dst), contents(t, src); !maps.Equal(got, want) {
		t.Errorf("loaded store holds %v; want %v", got, want)
	}
}

func TestIncrementalBackupCarriesOnlyChangesAndDeletions(t *testing.T) {
	t.Parallel()
	src := openDisk(t)
	set(t, src, "keep", "1", "gone", "2", "old", "3")
	var full bytes.Buffer
	since, err := src.Backup(&full, 0)
	if err != nil {
		t.Fatal(err)
	}

	var none bytes.Buffer
	again, err := src.Backup(&none, since)
	if err != nil {
		t.Fatal(err)
	}
	if again != since || none.Len() != 0 {
		t.Errorf("incremental backup with no change: next %d and %d bytes; want next %d and no bytes", again, none.Len(), since)
	}

	set(t, src, "old", "3b", "new", "4")
	if err := src.Apply([]kv.Op{{Key: []byte("gone"), Delete: true}}); err != nil {
		t.Fatal(err)
	}
	var incr bytes.Buffer
	next, err := src.Backup(&incr, since)
	if err != nil {
		t.Fatal(err)
	}
	if next <= since {
		t.Errorf("incremental backup returned next since %d; want more than %d", next, since)
	}

	alone := openDisk(t)
	if err := alone.Load(bytes.NewReader(incr.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, want := contents(t, alone), map[string]string{"old": "3b", "new": "4"}; !maps.Equal(got, want) {
		t.Errorf("the incremental backup alone holds %v; want only the changes %v", got, want)
	}

	chain := openDisk(t)
	for i, b := range []*bytes.Buffer{&full, &incr} {
		if err := chain.Load(b); err != nil {
			t.Fatalf("load backup %d: %v", i, err)
		}
	}
	if got, want := contents(t, chain), contents(t, src); !maps.Equal(got, want) {
		t.Errorf("full + incremental holds %v; want the source's %v", got, want)
	}
}

// TestBackupIsAConsistentSnapshotUnderConcurrentWrites writes pairs of
// keys that always hold the same counter, in one atomic batch each, while
// backups are taken: a backup that saw half a batch would hold a pair that
// differs.
func TestBackupIsAConsistentSnapshotUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	src := openDisk(t)
	const pairs, rounds = 20, 100_000 // the writer stops when the backups are done
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := uint64(1); n <= rounds; n++ {
			select {
			case <-stop:
				return
			default:
			}
			var ops []kv.Op
			for p := range pairs {
				v := binary.BigEndian.AppendUint64(nil, n)
				ops = append(ops, kv.Op{Key: fmt.Appendf(nil, "p%02d/a", p), Value: v}, kv.Op{Key: fmt.Appendf(nil, "p%02d/b", p), Value: v})
			}
			if err := src.Apply(ops); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 5 {
		var buf bytes.Buffer
		if _, err := src.Backup(&buf, 0); err != nil {
			t.Fatal(err)
		}
		dst := openDisk(t)
		if err := dst.Load(&buf); err != nil {
			t.Fatal(err)
		}
		got := contents(t, dst)
		for p := range pairs {
			a, b := got[fmt.Sprintf("p%02d/a", p)], got[fmt.Sprintf("p%02d/b", p)]
			if a != b {
				t.Fatalf("backup %d: pair %d holds %x and %x; want one batch's value in both", i, p, a, b)
			}
		}
	}
}

// plainStore is a Store that is not a Backuper.
type plainStore struct{ kv.Store }

func TestBackupOfAStoreThatCannotRefusesWithErrNoBackup(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if _, err := kv.Backup(plainStore{}, &buf, 0); !errors.Is(err, kv.ErrNoBackup) {
		t.Errorf("kv.Backup of a store without backups: err %v; want ErrNoBackup", err)
	}
	if buf.Len() != 0 {
		t.Errorf("kv.Backup wrote %d bytes for a store without backups; want none", buf.Len())
	}
}
