package kv

import (
	"bytes"
	"errors"
)

// GuardedApplier is a Store that can commit a batch conditioned on one
// key, across processes: ApplyGuarded reads the guard key's current value,
// calls fn with it, and applies the ops fn returns atomically, such that no
// other ApplyGuarded or Update of the same guard key committed in between.
// If one did, fn runs again on the new value. An error from fn aborts and
// is returned; returning no ops writes nothing.
//
// It is what a log's head needs when several servers append to one chain:
// the head is the guard, the new records and the new head are the ops.
// Badger implements it with an optimistic transaction (its guard is in the
// transaction's read set); PostgreSQL with SELECT ... FOR UPDATE of the
// guard row, or an INSERT of it that fails if another writer created it.
type GuardedApplier interface {
	ApplyGuarded(guard []byte, fn func(cur []byte) ([]Op, error)) error
}

// ApplyGuarded runs s.ApplyGuarded, which s must implement.
func ApplyGuarded(s Store, guard []byte, fn func(cur []byte) ([]Op, error)) error {
	g, ok := s.(GuardedApplier)
	if !ok {
		return errors.New("kv: store does not support guarded batches")
	}
	return g.ApplyGuarded(guard, fn)
}

// Swapper is a Store that can commit a batch on the condition that one key
// still holds the value the caller last saw: ApplyIf applies ops
// atomically if guard's current value equals want, and otherwise writes
// nothing and reports false. ops must set guard (to the value the next
// ApplyIf will want); want must not be nil (the guard exists).
//
// It is GuardedApplier's optimistic twin, for a writer that usually wins:
// a server appending to a shared log keeps the head it last wrote and
// swaps it for the next one, which PostgreSQL does in one round trip
// instead of ApplyGuarded's two (lock, then write). When another writer
// moved the guard in between, ApplyIf reports false and the caller falls
// back to ApplyGuarded, which reads the guard under its lock.
type Swapper interface {
	ApplyIf(guard, want []byte, ops []Op) (bool, error)
}

// ErrSwapWithoutGuard is returned by ApplyIf when want is nil or ops do
// not set guard.
var ErrSwapWithoutGuard = errors.New("kv: ApplyIf needs the guard's expected value and an op that sets the guard")

// SwapGuard checks ApplyIf's arguments and returns the value ops set the
// guard to, or ErrSwapWithoutGuard. Implementations of Swapper call it
// first.
func SwapGuard(guard, want []byte, ops []Op) ([]byte, error) {
	if want == nil {
		return nil, ErrSwapWithoutGuard
	}
	var next []byte
	set := false
	for _, op := range ops {
		if bytes.Equal(op.Key, guard) {
			next, set = op.Value, !op.Delete
		}
	}
	if !set {
		return nil, ErrSwapWithoutGuard
	}
	return next, nil
}
