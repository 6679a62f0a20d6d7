package kv

import (
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
			var cur []byte
			item, err := txn.Get(guard)
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
			case err != nil:
				return err
			default:
				if cur, err = item.ValueCopy(nil); err != nil {
					return err
				}
			}
			ops, err := fn(cur)
			if err != nil {
				return err
			}
			for _, op := range ops {
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
