package kv

import (
	"bytes"
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// ApplyGuarded implements GuardedApplier with one optimistic transaction
// that reads guard, retried on conflicts. Like Apply, it returns once the
// commit is durable (a group-commit round, unless the store syncs every
// commit itself).
func (b *Badger) ApplyGuarded(guard []byte, fn func(cur []byte) ([]Op, error)) error {
	for {
		err := b.db.Update(func(txn *badger.Txn) error {
			cur, _, err := guardValue(txn, guard)
			if err != nil {
				return err
			}
			ops, err := fn(cur)
			if err != nil {
				return err
			}
			return applyTxn(txn, ops)
		})
		if errors.Is(err, badger.ErrConflict) {
			continue
		}
		if err != nil {
			return mapErr(err)
		}
		return b.durable()
	}
}

// ApplyIf implements Swapper with one optimistic transaction that reads
// guard: it reports false when guard does not hold want, or when another
// transaction changed guard before this one committed (Badger's conflict
// detection). Like Apply, it returns once the commit is durable.
func (b *Badger) ApplyIf(guard, want []byte, ops []Op) (bool, error) {
	if _, err := SwapGuard(guard, want, ops); err != nil {
		return false, err
	}
	err := b.db.Update(func(txn *badger.Txn) error {
		cur, found, err := guardValue(txn, guard)
		if err != nil {
			return err
		}
		if !found || !bytes.Equal(cur, want) {
			return errGuardMoved
		}
		return applyTxn(txn, ops)
	})
	switch {
	case errors.Is(err, errGuardMoved), errors.Is(err, badger.ErrConflict):
		return false, nil
	case err != nil:
		return false, mapErr(err)
	}
	if err := b.durable(); err != nil {
		return false, err
	}
	return true, nil
}

// guardValue reads guard in txn, putting it in the transaction's read set
// (so a commit that changed it meanwhile makes txn conflict).
func guardValue(txn *badger.Txn, guard []byte) (cur []byte, found bool, err error) {
	item, err := txn.Get(guard)
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	cur, err = item.ValueCopy(nil)
	return cur, err == nil, err
}

// errGuardMoved aborts ApplyIf's transaction when the guard does not hold
// the expected value.
var errGuardMoved = errors.New("kv: the guard moved")

// applyTxn adds ops to txn.
func applyTxn(txn *badger.Txn, ops []Op) error {
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
}
