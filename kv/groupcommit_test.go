package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// gatedStore opens an on-disk store whose group-commit sync blocks until
// the test releases it, counting the rounds that started.
func gatedStore(t *testing.T) (b *Badger, started <-chan struct{}, release chan<- error) {
	t.Helper()
	b, err := OpenBadger(DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.db.Close() })
	st, rel := make(chan struct{}, 100), make(chan error)
	inner := b.group.sync
	b.group.sync = func() error {
		st <- struct{}{}
		if err := <-rel; err != nil {
			return err
		}
		return inner()
	}
	return b, st, rel
}

func TestGroupCommitAcknowledgesOnlyAfterTheSyncAndNeverStallsReaders(t *testing.T) {
	t.Parallel()
	b, started, release := gatedStore(t)
	applied := make(chan error, 1)
	go func() { applied <- b.Apply([]Op{{Key: []byte("k"), Value: []byte("v1")}}) }()
	<-started // the write is committed and its writer waits on the sync

	// A reader is not held up by the pending sync, and sees the commit.
	got, err := b.Get([][]byte{[]byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0]) != "v1" {
		t.Errorf("read during the sync = %q, want %q (readers see committed writes at once)", got[0], "v1")
	}
	select {
	case err := <-applied:
		t.Fatalf("Apply returned (%v) before its sync finished: the write was acknowledged before it was durable", err)
	case <-time.After(50 * time.Millisecond):
	}
	release <- nil
	if err := <-applied; err != nil {
		t.Fatalf("Apply after a good sync: %v", err)
	}
}

func TestGroupCommitSharesOneSyncAmongWaitingWriters(t *testing.T) {
	t.Parallel()
	b, started, release := gatedStore(t)
	first := make(chan error, 1)
	go func() { first <- b.Apply([]Op{{Key: []byte("first"), Value: []byte("x")}}) }()
	<-started // round 1 runs; the writers below queue for round 2

	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() { errs <- b.Apply([]Op{{Key: fmt.Appendf(nil, "w%d", i), Value: []byte("x")}}) })
	}
	// Let them all commit and queue, then finish round 1 and round 2.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.group.mu.Lock()
		queued := b.group.next != nil
		b.group.mu.Unlock()
		if queued || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the rest of the writers join the queued round
	release <- nil
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	go func() {
		for range started {
			release <- nil
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := b.SyncRounds(); got < 2 || got >= 1+writers {
		t.Errorf("sync rounds for 1 + %d writers = %d; want the %d queued writers to share a few rounds", writers, got, writers)
	}
}

func TestGroupCommitFailureIsStickyAndNamed(t *testing.T) {
	t.Parallel()
	b, _, release := gatedStore(t)
	done := make(chan error, 1)
	go func() { done <- b.Apply([]Op{{Key: []byte("k"), Value: []byte("v")}}) }()
	release <- errors.New("input/output error")
	if err := <-done; !errors.Is(err, ErrNotDurable) {
		t.Fatalf("Apply whose sync failed = %v, want ErrNotDurable", err)
	}
	// Every later write fails too, without trusting a later sync.
	if err := b.Apply([]Op{{Key: []byte("k2"), Value: []byte("v")}}); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("Apply after a failed sync = %v, want ErrNotDurable", err)
	}
	if err := b.Update([]byte("k3"), func([]byte) ([]byte, error) { return []byte("v"), nil }); !errors.Is(err, ErrNotDurable) {
		t.Fatalf("Update after a failed sync = %v, want ErrNotDurable", err)
	}
}

func TestLogSyncerSyncsRotatedLogsOnceAndForgetsDeletedOnes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"00001.mem", "00002.mem", "000001.vlog", "MANIFEST"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := newLogSyncer(dir)
	if err := s.syncLogs(); err != nil {
		t.Fatal(err)
	}
	if got, want := sortedKeys(s.synced), []string{"00001.mem"}; !slices.Equal(got, want) {
		t.Errorf("rotated logs marked synced = %v, want %v (the newest of each kind is synced every round)", got, want)
	}
	if err := os.Remove(filepath.Join(dir, "00001.mem")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00003.mem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.syncLogs(); err != nil {
		t.Fatal(err)
	}
	if got, want := sortedKeys(s.synced), []string{"00002.mem"}; !slices.Equal(got, want) {
		t.Errorf("after a flush and a rotation, logs marked synced = %v, want %v", got, want)
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
