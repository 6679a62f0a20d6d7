package kv

import "fmt"

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
// table, which Badger syncs itself) is skipped, and one that Badger rotated
// away from is synced once more and then never again (a store whose values
// live in the value log keeps many: see logSyncer). An in-memory store has
// nothing to flush. SyncLogs and the group commit share one logSyncer.
func (b *Badger) SyncLogs() error {
	if b.logs == nil {
		return nil
	}
	if err := b.logs.syncLogs(); err != nil {
		return fmt.Errorf("kv: sync logs: %w", err)
	}
	return nil
}
