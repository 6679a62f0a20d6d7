package keys

import (
	"fmt"
	"time"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// createSubjects gives a key to each subject idx[i] names, under the locks
// of their stripes: it re-reads the keystore (another caller may have won),
// then stores all new wrapped keys in one atomic write.
func (k *Keyring) createSubjects(entity string, bis []BlindIndex, ids [][]byte, idx []int, now time.Time, out []tink.AEAD, created []bool) error {
	stripes := make([]int, len(idx))
	for j, i := range idx {
		stripes[j] = k.stripe(ids[i])
	}
	defer k.lockStripesOf(stripes)()

	keys := make([][]byte, len(idx))
	for j, i := range idx {
		keys[j] = subjectKey(ids[i])
	}
	vals, err := k.store.Get(keys)
	if err != nil {
		return fmt.Errorf("keys: read subject keys of entity %q: %w", entity, err)
	}
	var ops []kv.Op
	fresh := map[string]cachedKey{} // by id: a subject listed twice gets one key
	for j, i := range idx {
		if vals[j] != nil { // created by a caller that held the lock before us
			c, err := k.unwrap(entity, bis[i], ids[i], vals[j])
			if err != nil {
				return err
			}
			k.cache.put(ids[i], c, now)
			if out[i], err = c.primitive(); err != nil {
				return err
			}
			continue
		}
		c, ok := fresh[string(ids[i])]
		if !ok {
			var wrapped []byte
			if c, wrapped, err = k.newSubjectKey(entity, bis[i], ids[i]); err != nil {
				return err
			}
			fresh[string(ids[i])] = c
			ops = append(ops, kv.Op{Key: keys[j], Value: wrapped})
			created[i] = true
		}
		if out[i], err = c.primitive(); err != nil {
			return err
		}
	}
	if len(ops) == 0 {
		return nil
	}
	if err := k.store.Apply(ops); err != nil {
		for _, i := range idx {
			out[i], created[i] = nil, false
		}
		return fmt.Errorf("keys: store %d new subject keys of entity %q: %w", len(ops), entity, err)
	}
	for id, c := range fresh {
		k.cache.put([]byte(id), c, now)
	}
	k.created.Add(uint64(len(ops)))
	return nil
}

// newSubjectKey makes a subject keyset and returns it as the cache holds
// it and in its wrapped form, bound to the subject.
func (k *Keyring) newSubjectKey(entity string, bi BlindIndex, id []byte) (cachedKey, []byte, error) {
	h, err := keyset.NewHandle(aead.AES256GCMNoPrefixKeyTemplate())
	if err != nil {
		return cachedKey{}, nil, fmt.Errorf("keys: generate subject key: %w", err)
	}
	wrapped, err := wrap(h, k.kek, subjectAD(id))
	if err != nil {
		return cachedKey{}, nil, fmt.Errorf("keys: wrap subject key of entity %q, blind index %s: %w", entity, bi, err)
	}
	c, err := cachedKeyOf(h)
	if err != nil {
		return cachedKey{}, nil, fmt.Errorf("keys: subject key primitive: %w", err)
	}
	return c, wrapped, nil
}
