package kv

import "errors"

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
