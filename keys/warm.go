package keys

import (
	"context"
	"errors"

	"github.com/featurevault/featurevault/kv"
)

// errWarmDone stops Warm's walk of the keystore once the cache is full.
var errWarmDone = errors.New("keys: the subject key cache is full")

// Warm fills the subject key cache from the keystore, in keystore order,
// until the cache is full, every subject key is cached, or ctx is done;
// it returns how many keys it cached. A server calls it in the background
// after it starts, so that the first read of each subject does not wait
// for a keystore read and an unwrap (on a shared keystore, a round trip
// to the database).
//
// It never evicts or replaces a cached key, and it caches no key that an
// erasure, a subject key rotation or another server's invalidation touched
// while it ran: the generation of every lock stripe is read before the
// walk starts, and a key is cached only if its stripe's generation is
// unchanged (cacheIfCurrent, the rule of a read's cache fill). Warmed keys
// expire after the cache TTL like any other.
//
// A key that does not unwrap stops the walk with its error (the same
// ErrSubjectUnwrap a read of that subject would get).
func (k *Keyring) Warm(ctx context.Context) (int, error) {
	if k.closed.Load() {
		return 0, ErrClosed
	}
	var gens [lockStripes]uint64
	for i := range k.locks {
		gens[i] = k.locks[i].gen.Load()
	}
	room := k.cache.room()
	if room == 0 {
		return 0, nil
	}
	now := k.cache.clock()
	cached := 0
	err := k.store.Scan(prefixSubject, func(e kv.Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := e.Key[len(prefixSubject):]
		entity, bi, ok := parseSubjectID(id)
		if !ok {
			return nil // not a subject key; reads never ask for it
		}
		c, err := k.unwrapFresh(entity, bi, id, e.Value)
		if err != nil {
			return err
		}
		if k.cacheIfCurrent(id, c, gens[k.stripe(id)], now, false) {
			cached++
		}
		if cached >= room {
			return errWarmDone
		}
		return nil
	})
	if errors.Is(err, errWarmDone) {
		err = nil
	}
	return cached, err
}
