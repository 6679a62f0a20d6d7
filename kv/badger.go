package kv

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
)

// Badger is a Store on an embedded Badger database in one directory.
type Badger struct {
	db *badger.DB
}

// Options configures OpenBadger. Start from DefaultOptions.
type Options struct {
	dir      string
	inMemory bool
	syncs    bool
	logger   *slog.Logger
	memory   Memory // badger_memory.go
}

// DefaultOptions returns options for a durable store in dir: every commit is
// synced to disk before Apply returns.
func DefaultOptions(dir string) Options {
	return Options{dir: dir, syncs: true}
}

// WithInMemory keeps everything in memory (for tests and examples).
func (o Options) WithInMemory(b bool) Options { o.inMemory = b; return o }

// WithSyncWrites sets whether Apply waits for the write to reach disk.
func (o Options) WithSyncWrites(b bool) Options { o.syncs = b; return o }

// WithLogger sends Badger's warnings and errors to l (default: discarded).
func (o Options) WithLogger(l *slog.Logger) Options { o.logger = l; return o }

// OpenBadger opens (or creates) the Badger database described by o.
func OpenBadger(o Options) (*Badger, error) {
	bo := badger.DefaultOptions(o.dir).
		WithInMemory(o.inMemory).
		WithSyncWrites(o.syncs).
		WithLogger(badgerLogger{o.logger}).
		WithMetricsEnabled(false)
	bo = o.memory.apply(bo)
	if o.inMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", o.dir, err)
	}
	return &Badger{db: db}, nil
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

// First implements Store. One iterator serves every prefix: each is a seek.
func (b *Badger) First(prefixes [][]byte) ([]Entry, error) {
	out := make([]Entry, len(prefixes))
	err := b.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		if len(prefixes) == 1 {
			opts.Prefix = prefixes[0]
		}
		it := txn.NewIterator(opts)
		defer it.Close()
		for i, p := range prefixes {
			it.Seek(p)
			if !it.ValidForPrefix(p) {
				continue
			}
			item := it.Item()
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			out[i] = Entry{Key: item.KeyCopy(nil), Value: v}
		}
		return nil
	})
	return out, mapErr(err)
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

// Apply implements Store with one Badger transaction.
func (b *Badger) Apply(ops []Op) error {
	return mapErr(b.db.Update(func(txn *badger.Txn) error {
		for _, op := range ops {
			var err error
			if op.Delete {
				err = txn.Delete(op.Key)
			} else {
				err = txn.Set(op.Key, op.Value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}))
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

// Update implements Updater, retrying on transaction conflicts.
func (b *Badger) Update(key []byte, fn func(old []byte) ([]byte, error)) error {
	for {
		err := b.db.Update(func(txn *badger.Txn) error {
			var old []byte
			item, err := txn.Get(key)
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				if old, err = item.ValueCopy(nil); err != nil {
					return err
				}
			}
			nv, err := fn(old)
			if err != nil {
				return err
			}
			if old != nil && bytes.Equal(nv, old) {
				return nil
			}
			return txn.Set(key, nv)
		})
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		return mapErr(err)
	}
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
func (b *Badger) Sync() error { return mapErr(b.db.Sync()) }
