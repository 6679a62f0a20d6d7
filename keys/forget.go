package keys

import (
	"fmt"

	"github.com/featurevault/featurevault/kv"
)

// ForgetSubject deletes the subject's wrapped key and evicts its AEAD from the
// cache: the crypto-shredding primitive. Afterwards the Keyring never returns
// that key again (SubjectAEAD with create=false is ErrSubjectNotFound), even
// to loads that were in flight. AEADs already handed to callers still work:
// callers must not keep them beyond a request. Copies of the keystore in
// backups still hold the wrapped key until the KEK that wrapped it is retired.
// Forgetting a subject without a key is not an error.
func (k *Keyring) ForgetSubject(entity string, bi BlindIndex) error {
	if k.closed.Load() {
		return ErrClosed
	}
	if entity == "" {
		return fmt.Errorf("%w: empty entity name", ErrInvalidArgument)
	}
	id := subjectID(entity, bi)
	lk := k.lock(id)
	lk.mu.Lock()
	defer lk.mu.Unlock()
	err := k.store.Apply([]kv.Op{{Key: subjectKey(id), Delete: true}})
	lk.gen.Add(1) // after the delete: a loader that reads gen from now on cannot see the key
	k.cache.remove(id)
	if err != nil {
		return fmt.Errorf("keys: delete subject key of entity %q, blind index %s: %w", entity, bi, err)
	}
	k.forgotten.Add(1)
	return nil
}

// ForgetSubjects is ForgetSubject for many subjects of one entity, in one
// atomic keystore write: either every key is deleted or none. existed[i]
// reports whether bis[i] had a key (false: never written, or already
// erased). The subjects' stripes are locked in order for the write, so
// concurrent creations and erasures of other subjects wait at most one
// write.
func (k *Keyring) ForgetSubjects(entity string, bis []BlindIndex) (existed []bool, err error) {
	if err := k.checkUsable(entity); err != nil {
		return nil, err
	}
	ids := make([][]byte, len(bis))
	keys := make([][]byte, len(bis))
	stripes := make([]int, len(bis))
	for i, bi := range bis {
		ids[i] = subjectID(entity, bi)
		keys[i] = subjectKey(ids[i])
		stripes[i] = k.stripe(ids[i])
	}
	defer k.lockStripesOf(stripes)()
	vals, err := k.store.Get(keys)
	if err != nil {
		return nil, fmt.Errorf("keys: read subject keys of entity %q: %w", entity, err)
	}
	existed = make([]bool, len(bis))
	var ops []kv.Op
	for i, v := range vals {
		if v != nil {
			existed[i] = true
			ops = append(ops, kv.Op{Key: keys[i], Delete: true})
		}
	}
	if len(ops) > 0 {
		err = k.store.Apply(ops)
	}
	for _, s := range stripes {
		k.locks[s].gen.Add(1) // after the delete: loaders from now on cannot see the keys
	}
	for _, id := range ids {
		k.cache.remove(id)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: delete %d subject keys of entity %q: %w", len(ops), entity, err)
	}
	k.forgotten.Add(uint64(len(ops)))
	return existed, nil
}
