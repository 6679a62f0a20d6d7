package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrNotDurable is returned by Apply and Update when a write was committed
// but the disk sync that would make it durable failed. The write may be
// visible to readers and may or may not survive a power failure; it was
// not acknowledged. After one failed sync every later write fails the
// same way (the kernel may have dropped the unsynced pages, so a later
// successful sync would prove nothing): stop the server, check the disk,
// and restart it.
var ErrNotDurable = errors.New("kv: the write was committed but not synced to disk; check the disk and restart the server")

// groupCommit makes committed writes durable in groups: a writer commits
// its transaction (visible at once, in the page cache) and then waits for a
// sync round that started after its commit. One round serves every writer
// waiting when it starts, so concurrent writers share one set of fsyncs —
// group commit — and a reader never waits for a disk flush (Badger's own
// SyncWrites makes every new read transaction wait for the fsync of every
// earlier commit, which stalls reads behind writes).
//
// The price: a reader may see a write a moment before it is on disk. If
// the machine then loses power, that write is gone although someone read
// it; its writer was never told it succeeded.
type groupCommit struct {
	sync func() error // makes everything committed so far durable

	mu      sync.Mutex
	running bool       // a round is in progress (the loop goroutine lives)
	next    *syncRound // the round the next waiter joins; nil when none is queued
	failed  error      // the first sync failure; sticky

	rounds atomic.Uint64 // sync rounds run (SyncRounds)
}

// syncRound is one shared sync: done closes when it ends, err says how.
type syncRound struct {
	done chan struct{}
	err  error
}

// wait returns once everything committed before the call is on disk, or
// the error that prevented it.
func (g *groupCommit) wait() error {
	g.mu.Lock()
	if g.failed != nil {
		err := g.failed
		g.mu.Unlock()
		return err
	}
	r := g.next
	if r == nil {
		r = &syncRound{done: make(chan struct{})}
		g.next = r
	}
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	<-r.done
	return r.err
}

// loop runs rounds until no writer waits. A round takes every waiter
// queued so far (each queued after its commit returned) and only then
// starts its sync, so the sync covers their commits.
func (g *groupCommit) loop() {
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		failed := g.failed
		g.mu.Unlock()
		if failed != nil {
			r.err = failed
		} else if err := g.sync(); err != nil {
			r.err = fmt.Errorf("%w (%v)", ErrNotDurable, err)
			g.mu.Lock()
			g.failed = r.err
			g.mu.Unlock()
		}
		g.rounds.Add(1)
		close(r.done)
	}
}

// logSyncer fsyncs Badger's write-ahead files in one directory: the
// memtable logs (*.mem) and the value logs (*.vlog). Badger writes them
// through shared memory maps; fsync of the file writes back the pages
// dirtied through the map, as Badger's own msync does.
//
// Badger's DB.Sync syncs only the current memtable log and value log. A
// commit can land in a memtable that is rotated out (it became full)
// before the next DB.Sync: that log stays unsynced until the memtable is
// flushed to a table, and a power failure in between would lose the
// commit. So each round lists the directory and fsyncs every log file
// that may hold unsynced commits: the newest of each kind always, older
// ones (already rotated, never written again) once. A file that vanished
// meanwhile was flushed to a synced table and deleted, which is fine.
// When a new file appears, the directory is synced too, so its entry
// survives a power failure.
type logSyncer struct {
	dir    string
	mu     sync.Mutex      // one round at a time
	synced map[string]bool // rotated log files synced since they stopped changing
	known  map[string]bool // log files seen by the last round
}

func newLogSyncer(dir string) *logSyncer {
	return &logSyncer{dir: dir, synced: map[string]bool{}}
}

// syncLogs is one round of logSyncer.
func (s *logSyncer) syncLogs() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var mems, vlogs []string
	for _, e := range ents {
		switch n := e.Name(); {
		case strings.HasSuffix(n, ".mem"):
			mems = append(mems, n)
		case strings.HasSuffix(n, ".vlog"):
			vlogs = append(vlogs, n)
		}
	}
	// Badger names them with zero-padded counters: the newest sorts last.
	slices.Sort(mems)
	slices.Sort(vlogs)
	newFile := false
	seen := make(map[string]bool, len(mems)+len(vlogs))
	for _, list := range [][]string{mems, vlogs} {
		for i, n := range list {
			seen[n] = true
			if !s.known[n] {
				newFile = true
			}
			if s.synced[n] {
				continue
			}
			if err := datasyncFile(filepath.Join(s.dir, n)); err != nil {
				return err
			}
			if i < len(list)-1 { // rotated before this round began: it is final now
				s.synced[n] = true
			}
		}
	}
	for n := range s.synced {
		if !seen[n] {
			delete(s.synced, n)
		}
	}
	s.known = seen
	if newFile {
		return fsyncFile(s.dir)
	}
	return nil
}

// fsyncFile fsyncs the file or directory at path. A file that no longer
// exists needs nothing.
func fsyncFile(path string) error { return syncPath(path, (*os.File).Sync) }

// datasyncFile is fsyncFile for a log's data: it writes back the file's
// pages and the metadata needed to read them (block allocation, size), but
// not its timestamps, as Badger's own msync does — a full fsync would
// commit the file system's journal for the mtime every write touches.
func datasyncFile(path string) error { return syncPath(path, datasync) }

func syncPath(path string, sync func(*os.File) error) error {
	f, err := os.Open(path) // #nosec G304 -- a file of the store's own directory
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return errors.Join(sync(f), f.Close())
}
