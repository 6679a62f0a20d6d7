package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SyncLogs flushes every write Apply has returned from so far to disk,
// like Sync, without holding up writes while it does.
//
// Badger's own Sync holds the database's lock while it flushes the
// memtable's write-ahead log, and every commit takes that lock exclusively
// first (to check for room in the memtable): a slow disk flush stalls
// every writer for as long as it takes. SyncLogs instead fsyncs the log
// files (the memtables' write-ahead logs, *.mem, and the value logs,
// *.vlog) through file descriptors of its own, and then their directories.
// On Linux an fsync covers pages written through Badger's shared memory
// mappings of those files, so what it flushes is what Sync would.
//
// A log file that Badger deletes meanwhile (its memtable was written to a
// table, which Badger syncs itself) is skipped. An in-memory store has
// nothing to flush.
func (b *Badger) SyncLogs() error {
	o := b.db.Opts()
	if o.InMemory {
		return nil
	}
	dirs := []string{o.Dir}
	if o.ValueDir != "" && o.ValueDir != o.Dir {
		dirs = append(dirs, o.ValueDir)
	}
	var errs []error
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("kv: sync logs: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !(strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")) {
				continue
			}
			if err := fsyncPath(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		if err := fsyncPath(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kv: sync logs: %w", err)
	}
	return nil
}

// fsyncPath opens path read-only and fsyncs it.
func fsyncPath(path string) error {
	f, err := os.Open(path) // #nosec G304 -- a file of the store's own directory
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
