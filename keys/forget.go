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
