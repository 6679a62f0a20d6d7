package kv

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"

	"github.com/featurevault/featurevault/internal/fanout"
)

// Badger is a Store on an embedded Badger database in one directory.
//
// Durability: with the default options, Apply, Update and Load return only
// once their write is on disk (fsynced), so a write they acknowledge
// survives a crash of the process and a power failure. Concurrent writers
// share fsyncs (group commit, see WithGroupCommit); a write is visible to
// readers as soon as it is committed, a moment before it is durable.
type Badger struct {
	db    *badger.DB
	group *groupCommit // nil unless syncs with group commit on disk
	logs  *logSyncer   // nil in memory
}

// Options configures OpenBadger. Start from DefaultOptions.
type Options struct {
	dir      string
	inMemory bool
	syncs    bool
	perWrite bool // Badger's own SyncWrites instead of group commit
	logger   *slog.Logger
	memory   Memory // badger_memory.go
	// smallLogs (tests) makes memtables and value logs 1 MiB and sends
	// values over 1 KiB to the value log, so that a few megabytes of writes
	// rotate both many times.
	smallLogs bool
}

// DefaultOptions returns options for a durable store in dir: every write
// is synced to disk before Apply returns, with group commit.
func DefaultOptions(dir string) Options {
	return Options{dir: dir, syncs: true}
}

// WithInMemory keeps everything in memory (for tests and examples).
func (o Options) WithInMemory(b bool) Options { o.inMemory = b; return o }

// WithSyncWrites sets whether Apply, Update and Load wait for the write to
// reach disk (default true). Without it a write survives a crash of the
// process (it is in the OS's page cache) but not a power failure, until
// Sync.
func (o Options) WithSyncWrites(b bool) Options { o.syncs = b; return o }

// WithGroupCommit chooses how synced writes reach the disk (default true).
//
// With group commit a write is committed at once (readers see it) and its
// writer then waits for a sync round that started after the commit; one
// round serves every writer waiting, so concurrent writers share one
// fsync and no reader ever waits for a disk flush. A reader can therefore
// see a write that a power failure would then undo (its writer was never
// told it succeeded).
//
// Without it, Badger syncs each batch of commits before they become
// visible (its SyncWrites): a reader never sees a write that is not yet on
// disk, but every read transaction started meanwhile waits for that fsync.
// Use it where a reader must never act on an undurable write — the
// keystore, where a subject key seen by a writer must be on disk before a
// row encrypted under it can be.
func (o Options) WithGroupCommit(b bool) Options { o.perWrite = !b; return o }

// WithLogger sends Badger's warnings and errors to l (default: discarded).
func (o Options) WithLogger(l *slog.Logger) Options { o.logger = l; return o }

// OpenBadger opens (or creates) the Badger database described by o.
func OpenBadger(o Options) (*Badger, error) {
	bo := badger.DefaultOptions(o.dir).
		WithInMemory(o.inMemory).
		WithSyncWrites(o.syncs && o.perWrite).
		WithLogger(badgerLogger{o.logger}).
		WithMetricsEnabled(false)
	bo = o.memory.apply(bo)
	if o.inMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	if o.smallLogs {
		bo = bo.WithMemTableSize(1 << 20).WithValueLogFileSize(1 << 20).WithValueThreshold(1 << 10)
	}
	if !o.inMemory {
		if err := removeEmptyLogs(o.dir, o.logger); err != nil {
			return nil, err
		}
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", o.dir, err)
	}
	b := &Badger{db: db}
	if !o.inMemory {
		b.logs = newLogSyncer(o.dir)
	}
	if o.syncs && !o.perWrite && !o.inMemory {
		ls := b.logs
		// syncLogs fsyncs the current memtable and value logs as well as
		// any a rotation left unsynced: a superset of DB.Sync (an msync of
		// the current two, which on Linux is the same fsync of the same
		// pages), so DB.Sync is not called as well.
		b.group = &groupCommit{sync: ls.syncLogs}
	}
	return b, nil
}

// durable waits until everything committed so far is on disk, when the
// store syncs with group commit (otherwise it has nothing to do: Badger
// synced it, or the store does not sync).
func (b *Badger) durable() error {
	if b.group == nil {
		return nil
	}
	return b.group.wait()
}

// Get implements Store.
func (b *Badger) Get(keys [][]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	err := b.db.View(func(txn *badger.Txn) error {
		for i, k := range keys {
			item, err := txn.Get(k)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if out[i], err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		return nil
	})
	return out, mapErr(err)
}

// First implements Store. The prefixes share one read-only transaction
// (one snapshot); each part of them (fanout.Run: a read of many entities
// seeks on every core) has an iterator of its own, where each prefix is a
// seek. Keys and values are copied into one buffer per part.
func (b *Badger) First(prefixes [][]byte) ([]Entry, error) {
	out := make([]Entry, len(prefixes))
	err := b.db.View(func(txn *badger.Txn) error {
		return fanout.Run(len(prefixes), firstPerPart, func(lo, hi int) error {
			return firstInto(txn, prefixes[lo:hi], out[lo:hi])
		})
	})
	return out, mapErr(err)
}

// firstPerPart is the fewest prefixes First seeks on a goroutine of their
// own: a 1×50 online read is one prefix, a 100×50 read splits in two on two
// cores.
const firstPerPart = 8

// firstInto seeks each prefix with one iterator of txn and sets out[i] to
// the first entry under prefixes[i], left empty when there is none.
func firstInto(txn *badger.Txn, prefixes [][]byte, out []Entry) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	if len(prefixes) == 1 {
		opts.Prefix = prefixes[0]
	}
	it := txn.NewIterator(opts)
	defer it.Close()
	var buf []byte // earlier entries keep the array they were copied to if it grows
	for i, p := range prefixes {
		it.Seek(p)
		if !it.ValidForPrefix(p) {
			continue
		}
		item := it.Item()
		if buf == nil { // room for the rest at this entry's size: rows of one view are alike
			buf = make([]byte, 0, (len(item.Key())+int(item.ValueSize()))*(len(prefixes)-i))
		}
		start := len(buf)
		buf = append(buf, item.Key()...)
		mid := len(buf)
		if err := item.Value(func(v []byte) error {
			buf = append(buf, v...)
			return nil
		}); err != nil {
			return err
		}
		out[i] = Entry{Key: buf[start:mid:mid], Value: buf[mid:len(buf):len(buf)]}
	}
	return nil
}

// Scan implements Store.
func (b *Badger) Scan(prefix []byte, fn func(Entry) error) error {
	return mapErr(b.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(Entry{Key: item.KeyCopy(nil), Value: v}); err != nil {
				return err
			}
		}
		return nil
	}))
}

// Apply implements Store with one Badger transaction; it returns once the
// transaction is durable (see Badger).
func (b *Badger) Apply(ops []Op) error {
	if err := b.apply(ops); err != nil {
		return err
	}
	return b.durable()
}

func (b *Badger) apply(ops []Op) error {
	return mapErr(b.db.Update(func(txn *badger.Txn) error { return applyTxn(txn, ops) }))
}

// Close implements Store.
func (b *Badger) Close() error { return b.db.Close() }

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrTxnTooBig):
		return ErrTooLarge
	case errors.Is(err, badger.ErrDBClosed):
		return ErrClosed
	}
	return fmt.Errorf("kv: %w", err)
}

// HasPrefix reports whether any key starts with prefix.
func HasPrefix(s Store, prefix []byte) (bool, error) {
	e, err := s.First([][]byte{prefix})
	if err != nil {
		return false, err
	}
	return e[0].Key != nil && bytes.HasPrefix(e[0].Key, prefix), nil
}

// badgerLogger forwards Badger's warnings and errors to slog; its chatty
// info and debug lines are dropped.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
	}
}

func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
	}
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

// Update implements Updater: ApplyGuarded on the key itself, writing
// nothing when fn returns the old value unchanged.
func (b *Badger) Update(key []byte, fn func(old []byte) ([]byte, error)) error {
	return b.ApplyGuarded(key, func(old []byte) ([]Op, error) {
		nv, err := fn(old)
		if err != nil {
			return nil, err
		}
		if old != nil && bytes.Equal(nv, old) {
			return nil, nil
		}
		return []Op{{Key: key, Value: nv}}, nil
	})
}

// Seek implements Store with one read transaction and one iterator: a
// skip is an iterator seek. Values are read lazily, so entries fn skips
// past cost a key comparison, not a copy. Errors from fn are returned as
// they are.
func (b *Badger) Seek(prefix, start []byte, fn func(Entry) ([]byte, error)) error {
	var fnErr error
	err := b.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		if bytes.Compare(start, prefix) < 0 {
			start = prefix
		}
		for it.Seek(start); it.ValidForPrefix(prefix); {
			item := it.Item()
			var next []byte
			err := item.Value(func(v []byte) error {
				next, fnErr = fn(Entry{Key: item.Key(), Value: v})
				return fnErr
			})
			switch {
			case errors.Is(fnErr, SkipAll):
				fnErr = nil
				return nil
			case fnErr != nil:
				return fnErr
			case err != nil:
				return err
			case next == nil:
				it.Next()
			default:
				it.Seek(next)
			}
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	return mapErr(err)
}

// Sync flushes every write so far to disk. With WithSyncWrites(false),
// writes survive a crash of the process (they are in the OS's page cache)
// but not of the machine until Sync.
func (b *Badger) Sync() error {
	if b.group != nil {
		return b.group.wait()
	}
	return mapErr(b.db.Sync())
}

// SyncRounds returns how many group-commit sync rounds have run (0 without
// group commit): writes divided by rounds is how many writers shared each
// fsync.
func (b *Badger) SyncRounds() uint64 {
	if b.group == nil {
		return 0
	}
	return b.group.rounds.Load()
}
