package keys

import (
	"bytes"
	"fmt"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Rotating one subject's key takes three steps, so that a crash at any
// point leaves every value readable:
//
//  1. BeginSubjectRotation adds a fresh key to the subject's keyset as its
//     primary and stores it: the AEAD it returns decrypts values under the
//     old key and the new one, and encrypts under the new one.
//  2. The caller (store.RotateSubjectKey) re-encrypts every value of the
//     subject with that AEAD.
//  3. FinishSubjectRotation deletes the old key from the keyset.
//
// Repeating step 1 on an unfinished rotation adds no further key, so an
// interrupted rotation is finished by running it again.

// BeginSubjectRotation starts rotating the key of the subject (entity, bi):
// see above. It returns ErrSubjectNotFound when the subject has no key.
// Readers that took the subject's AEAD before the call may fail once on a
// value already re-encrypted; new readers get the two-key AEAD.
func (k *Keyring) BeginSubjectRotation(entity string, bi BlindIndex) (tink.AEAD, error) {
	return k.updateSubject(entity, bi, func(h *keyset.Handle) (*keyset.Handle, error) {
		if h.Len() > 1 {
			return h, nil // an unfinished rotation: keep its new key
		}
		m := keyset.NewManagerFromHandle(h)
		id, err := m.Add(aead.AES256GCMNoPrefixKeyTemplate())
		if err != nil {
			return nil, fmt.Errorf("keys: add a subject key: %w", err)
		}
		if err := m.SetPrimary(id); err != nil {
			return nil, fmt.Errorf("keys: make the new subject key primary: %w", err)
		}
		return m.Handle()
	})
}

// FinishSubjectRotation deletes every key of the subject's keyset but the
// primary. Call it only once every value of the subject has been
// re-encrypted under the primary: values under the deleted keys no longer
// decrypt. Finishing a subject with one key does nothing.
func (k *Keyring) FinishSubjectRotation(entity string, bi BlindIndex) error {
	_, err := k.updateSubject(entity, bi, func(h *keyset.Handle) (*keyset.Handle, error) {
		info := h.KeysetInfo()
		if len(info.GetKeyInfo()) == 1 {
			return h, nil
		}
		m := keyset.NewManagerFromHandle(h)
		for _, ki := range info.GetKeyInfo() {
			if ki.GetKeyId() != info.GetPrimaryKeyId() {
				if err := m.Delete(ki.GetKeyId()); err != nil {
					return nil, fmt.Errorf("keys: delete the old subject key: %w", err)
				}
			}
		}
		return m.Handle()
	})
	return err
}

// updateSubject rewrites the subject's keyset with change, under its
// stripe's lock, and caches the new primitive. Loads in flight cannot cache
// the old one afterwards (the stripe's generation moves).
func (k *Keyring) updateSubject(entity string, bi BlindIndex, change func(*keyset.Handle) (*keyset.Handle, error)) (tink.AEAD, error) {
	if err := k.checkUsable(entity); err != nil {
		return nil, err
	}
	id := subjectID(entity, bi)
	key := subjectKey(id)
	lk := k.lock(id)
	lk.mu.Lock()
	defer lk.mu.Unlock()
	v, err := k.store.Get([][]byte{key})
	if err != nil {
		return nil, fmt.Errorf("keys: read subject key of entity %q: %w", entity, err)
	}
	if v[0] == nil {
		return nil, fmt.Errorf("%w: entity %q, blind index %s", ErrSubjectNotFound, entity, bi)
	}
	ad := subjectAD(id)
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(v[0])), k.kek, ad)
	if err != nil {
		return nil, fmt.Errorf("%w: entity %q, blind index %s (%v)", ErrSubjectUnwrap, entity, bi, err)
	}
	nh, err := change(h)
	if err != nil {
		return nil, err
	}
	c, err := cachedKeyOf(nh)
	if err != nil {
		return nil, fmt.Errorf("keys: subject key primitive: %w", err)
	}
	if nh != h {
		wrapped, err := wrap(nh, k.kek, ad)
		if err != nil {
			return nil, fmt.Errorf("keys: wrap subject key of entity %q, blind index %s: %w", entity, bi, err)
		}
		if err := k.store.Apply([]kv.Op{{Key: key, Value: wrapped}}); err != nil {
			return nil, fmt.Errorf("keys: store subject key of entity %q, blind index %s: %w", entity, bi, err)
		}
	}
	lk.gen.Add(1)
	k.cache.put(id, c, k.cache.clock())
	return c.primitive()
}
