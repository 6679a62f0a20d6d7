// Package kv is the narrow storage interface FeatureVault keeps its bytes
// behind, and its embedded Badger implementation.
//
// The interface is deliberately small — batched get, first-under-prefix,
// prefix scan, seek-and-skip walk, atomic apply — so that a distributed engine can replace Badger
// without touching cryptography or policy. Everything that crosses it is
// already ciphertext, a blind index or registry metadata: an implementation
// never sees a feature value or a raw entity key.
package kv

import "errors"

// ErrClosed is returned by every method once Close has been called.
var ErrClosed = errors.New("kv: store is closed")

// SkipAll stops a Seek walk early; Seek returns nil for it.
//
//lint:ignore ST1012 named like fs.SkipAll: a signal to stop, not a failure
var SkipAll = errors.New("kv: skip the rest of the walk")

// ErrTooLarge is returned by Apply when a batch is too large to commit
// atomically; the caller should split it.
var ErrTooLarge = errors.New("kv: batch too large to commit atomically; split it into smaller batches")

// ErrUnavailable is returned (wrapped) when the storage engine cannot be
// reached or refused the operation for a reason that may pass, such as a
// lost connection or a serialization conflict that kept recurring. An Apply
// that returns it committed all of its batch or none of it (all only when
// the connection was lost while the commit itself was in flight): retry it
// later, which is safe because Apply's sets and deletes are idempotent. The
// store reconnects by itself.
var ErrUnavailable = errors.New("kv: storage engine unavailable; check that the database is reachable, then retry")

// Entry is one key and its value.
type Entry struct {
	Key   []byte
	Value []byte
}

// Op is one write in an atomic batch: a Set when Delete is false, else a
// delete of Key (Value ignored).
type Op struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// Store is the storage contract. Implementations must be safe for concurrent
// use. Returned slices are owned by the caller.
type Store interface {
	// Get returns the value of each key, or nil where the key is absent.
	Get(keys [][]byte) ([][]byte, error)
	// First returns, for each prefix, the entry with the smallest key that
	// starts with it, or an Entry with a nil Key when there is none.
	First(prefixes [][]byte) ([]Entry, error)
	// Scan calls fn for every entry whose key starts with prefix, in
	// ascending key order, until fn returns an error (which Scan returns).
	Scan(prefix []byte, fn func(Entry) error) error
	// Seek walks the entries whose key starts with prefix, in ascending key
	// order, from the first key ≥ start (the first under prefix when start
	// sorts before it). fn steers the walk with what it returns: nil to go
	// on to the next key; a key to jump to the first key ≥ it (a skip); or
	// the error SkipAll to stop, which Seek then reports as nil. Any other
	// error stops the walk and is returned.
	//
	// Unlike Scan, the Entry slices are only valid until fn returns: copy
	// what you keep, and never return a key that aliases Entry.Key. Streaming
	// readers call Seek once per batch, resuming from a key after the last
	// one they kept, so no read transaction stays open between batches.
	Seek(prefix, start []byte, fn func(Entry) (next []byte, err error)) error
	// Apply commits ops atomically: all of them or none.
	Apply(ops []Op) error
	// Close releases the store.
	Close() error
}

// Updater is a Store that can read-modify-write one key atomically. Badger
// implements it with an optimistic transaction; a distributed engine would
// use compare-and-set (Redis WATCH, PostgreSQL SELECT ... FOR UPDATE).
type Updater interface {
	// Update calls fn with the key's current value (nil if absent) and
	// stores what fn returns, atomically: if another writer changed the key
	// in between, fn runs again on the new value. Returning the old slice
	// unchanged writes nothing; an error from fn aborts and is returned.
	Update(key []byte, fn func(old []byte) ([]byte, error)) error
}

// Update runs an atomic read-modify-write of key on s, which must implement
// Updater.
func Update(s Store, key []byte, fn func(old []byte) ([]byte, error)) error {
	u, ok := s.(Updater)
	if !ok {
		return errors.New("kv: store does not support atomic updates")
	}
	return u.Update(key, fn)
}
