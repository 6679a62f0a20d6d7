package keys

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// lockStripes is the number of subject locks; subjects hash onto them.
const lockStripes = 256

// subjectLock serialises creation and erasure of the subjects hashed onto it.
// gen counts erasures; a loader that read the keystore without the lock
// caches what it read only if gen did not move meanwhile, so an erased key
// never re-enters the cache.
type subjectLock struct {
	mu  sync.Mutex
	gen atomic.Uint64
}

func (k *Keyring) stripe(id []byte) int { return int(maphash.Bytes(k.seed, id) % lockStripes) }

func (k *Keyring) lock(id []byte) *subjectLock { return &k.locks[k.stripe(id)] }

// lockStripesOf locks the stripes of many subjects, each once and in stripe
// order (so concurrent batches never deadlock), and returns the unlock.
func (k *Keyring) lockStripesOf(stripes []int) (unlock func()) {
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, s := range stripes {
		k.locks[s].mu.Lock()
	}
	return func() {
		for _, s := range stripes {
			k.locks[s].mu.Unlock()
		}
	}
}

// SubjectAEAD returns the AEAD of the subject (entity, bi): the primitive of
// its own AES256-GCM keyset (no output prefix; 28 bytes of overhead per
// ciphertext: 12-byte nonce, 16-byte tag). Encrypt each value on its own and
// bind it with associated data that names where it belongs (view, field,
// subject, event time, schema); never use the AEAD with empty associated data.
//
// The primitive is built once and cached (bounded LRU with TTL). When the
// subject has no key and create is true, a new keyset is made, wrapped by the
// KEK with associated data binding it to (entity, bi), and stored; created is
// true. Concurrent callers creating one subject all get the same key. When
// create is false, a missing key is ErrSubjectNotFound.
func (k *Keyring) SubjectAEAD(entity string, bi BlindIndex, create bool) (a tink.AEAD, created bool, err error) {
	if err := k.checkUsable(entity); err != nil {
		return nil, false, err
	}
	var buf [32]byte // fits lp(entity) || bi for entity names up to 15 bytes: no allocation on a hit
	id := appendSubjectID(buf[:0], entity, bi)
	now := k.cache.clock()
	if c, ok := k.cache.get(id, now); ok {
		a, err := c.primitive()
		return a, false, err
	}
	id = bytes.Clone(id)
	out, cs := make([]tink.AEAD, 1), make([]bool, 1)
	if err := k.load(entity, []BlindIndex{bi}, [][]byte{id}, []int{0}, create, now, out, cs); err != nil {
		return nil, false, err
	}
	if out[0] == nil {
		return nil, false, fmt.Errorf("%w: entity %q, blind index %s", ErrSubjectNotFound, entity, bi)
	}
	return out[0], cs[0], nil
}

// SubjectAEADs is SubjectAEAD for many subjects of one entity: one keystore
// read for all cache misses and, with create, one atomic keystore write for
// all new keys. Both results are index-aligned with bis. A subject without a
// key has a nil AEAD when create is false (no error); created[i] reports that
// this call made bis[i]'s key. Any other failure (a key that does not unwrap,
// a keystore error) fails the whole batch.
func (k *Keyring) SubjectAEADs(entity string, bis []BlindIndex, create bool) ([]tink.AEAD, []bool, error) {
	if err := k.checkUsable(entity); err != nil {
		return nil, nil, err
	}
	out := make([]tink.AEAD, len(bis))
	created := make([]bool, len(bis))
	ids := make([][]byte, len(bis))
	buf := make([]byte, 0, len(bis)*subjectIDLen(entity))
	now := k.cache.clock()
	var miss []int
	for i, bi := range bis {
		start := len(buf)
		buf = appendSubjectID(buf, entity, bi)
		ids[i] = buf[start:len(buf):len(buf)]
		c, ok := k.cache.get(ids[i], now)
		if !ok {
			miss = append(miss, i)
			continue
		}
		a, err := c.primitive()
		if err != nil {
			return nil, nil, err
		}
		out[i] = a
	}
	if len(miss) > 0 {
		if err := k.load(entity, bis, ids, miss, create, now, out, created); err != nil {
			return nil, nil, err
		}
	}
	return out, created, nil
}

func (k *Keyring) checkUsable(entity string) error {
	if k.closed.Load() {
		return ErrClosed
	}
	if entity == "" {
		return fmt.Errorf("%w: empty entity name", ErrInvalidArgument)
	}
	return nil
}

// load fills out[i] for each i in miss from the keystore, without locks: each
// loaded key is cached only if no erasure of its stripe happened since its
// gen was read. With create, subjects without a key get one.
func (k *Keyring) load(entity string, bis []BlindIndex, ids [][]byte, miss []int, create bool, now time.Time, out []tink.AEAD, created []bool) error {
	gens := make([]uint64, len(miss))
	keys := make([][]byte, len(miss))
	for j, i := range miss {
		gens[j] = k.lock(ids[i]).gen.Load()
		keys[j] = subjectKey(ids[i])
	}
	vals, err := k.store.Get(keys)
	if err != nil {
		return fmt.Errorf("keys: read subject keys of entity %q: %w", entity, err)
	}
	var absent []int
	for j, i := range miss {
		if vals[j] == nil {
			absent = append(absent, i)
			continue
		}
		c, err := k.unwrapFresh(entity, bis[i], ids[i], vals[j])
		if err != nil {
			return err
		}
		k.cacheIfCurrent(ids[i], c, gens[j], now, true)
		if out[i], err = c.primitive(); err != nil {
			return err
		}
	}
	if create && len(absent) > 0 {
		return k.createSubjects(entity, bis, ids, absent, now, out, created)
	}
	return nil
}

// cacheIfCurrent caches a key loaded from the keystore, unless an
// erasure, a rotation or an invalidation of its stripe happened since gen
// was read (before the load): the one rule that keeps a destroyed key out
// of the cache. replace puts it over a cached one; otherwise it is added
// only if absent and the cache has room. It reports whether it cached.
func (k *Keyring) cacheIfCurrent(id []byte, c cachedKey, gen uint64, now time.Time, replace bool) bool {
	lk := k.lock(id)
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.gen.Load() != gen {
		return false
	}
	if replace {
		k.cache.put(id, c, now)
		return true
	}
	return k.cache.add(id, c, now)
}

// unwrap decrypts a stored subject keyset with the KEK under the subject's
// associated data, into the form the cache holds.
func (k *Keyring) unwrap(entity string, bi BlindIndex, id, wrapped []byte) (cachedKey, error) {
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrapped)), k.kek, subjectAD(id))
	if err != nil {
		return cachedKey{}, fmt.Errorf("%w: entity %q, blind index %s: it does not decrypt under the KEK with this subject's associated data (moved from another subject's slot, altered, or wrapped by a retired KEK); restore the keystore from backup (%v)", ErrSubjectUnwrap, entity, bi, err)
	}
	c, err := cachedKeyOf(h)
	if err != nil {
		return cachedKey{}, fmt.Errorf("%w: entity %q, blind index %s: not an AEAD keyset (%v)", ErrSubjectUnwrap, entity, bi, err)
	}
	k.unwrapped.Add(1)
	return c, nil
}
