package keys

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Keyring is an opened key hierarchy: the unwrapped KEK and blind-index key,
// and a cache of unwrapped subject keys. It is safe for concurrent use. One
// process owns an embedded keystore at a time (Badger locks its directory);
// servers sharing a keystore in a database each open a Keyring on it and
// keep their caches consistent with SetShared, ForgetCached and ReloadKEK
// (shared.go).
type Keyring struct {
	store kv.Store
	log   *slog.Logger
	kek   tink.AEAD // &kekNow: always the current KEK keyset (see rotate.go)
	prf   *prf.Set
	now   func() time.Time

	kekNow currentKEK // the KEK keyset and its primitive, swapped by rotation
	root   rootKey    // the KMS root AEAD, its URI and client
	life   sync.Mutex // serialises rotation, rewrap, retire and root rotation

	cache *cache[cachedKey]
	locks [lockStripes]subjectLock
	seed  maphash.Seed

	// shared keystore (shared.go): the wrapped KEK last loaded by ReloadKEK
	shared     atomic.Bool
	reloadMu   sync.Mutex
	kekWrapped []byte

	closed                        atomic.Bool
	kmsCalls                      kmsCounters
	created, unwrapped, forgotten atomic.Uint64
}

// Open loads the key hierarchy from keystore, a kv.Store in its own directory
// (so that it can be backed up on a shorter retention than data). The caller
// keeps ownership of keystore: Close does not close it.
//
// Open calls the KMS exactly here: one GetAEAD and one decrypt of the KEK
// (one encrypt instead when it creates the KEK). Never per value.
//
// When the keystore holds no KEK, Open creates a KEK and a blind-index key
// only if o allows it (WithCreate(true)); for a local:// URI it also creates
// the root key file if missing (mode 0600, with a warning that production
// should use a real KMS). Otherwise it refuses, writing nothing, with an error
// that says what to fix:
//
//   - ErrNoKeys: empty keystore and creation not allowed;
//   - ErrRootUnavailable: the root key cannot be had, e.g. the local root file
//     is missing while the keystore holds a KEK (restore it), or it is corrupt
//     (the error names the path);
//   - ErrKEKUnwrap: the root key is not the one that wrapped the KEK;
//   - ErrKeystoreDamaged: subject keys without a KEK, or a KEK without a
//     blind-index key;
//   - ErrNoKMSURI, ErrUnsupportedKMS, ErrInvalidArgument: bad Options.
func Open(ctx context.Context, keystore kv.Store, o Options) (*Keyring, error) {
	if o.cacheSize <= 0 {
		return nil, fmt.Errorf("%w: cache size %d; pass a positive size to Options.WithCacheSize", ErrInvalidArgument, o.cacheSize)
	}
	if _, err := o.kmsClient(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("keys: open: %w", err)
	}
	k := &Keyring{
		store: keystore,
		log:   o.logger,
		now:   o.now,
		cache: newCache[cachedKey](o.cacheSize, o.cacheTTL, time.Now),
		seed:  maphash.MakeSeed(),
	}
	if k.now == nil {
		k.now = time.Now
	}
	k.kek = &k.kekNow
	if k.log == nil {
		k.log = slog.Default()
	}
	v, err := keystore.Get([][]byte{keyKEK, keyPRF})
	if err != nil {
		return nil, fmt.Errorf("keys: read keystore: %w", err)
	}
	if v[0] == nil {
		err = k.createKeys(o, keystore, v[1] != nil)
	} else {
		err = k.loadKeys(o, v[0], v[1])
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// HasKeys reports whether keystore holds a KEK, i.e. whether Open would load
// an existing hierarchy rather than need WithCreate(true). It calls no KMS.
func HasKeys(keystore kv.Store) (bool, error) {
	v, err := keystore.Get([][]byte{keyKEK})
	if err != nil {
		return false, fmt.Errorf("keys: read keystore: %w", err)
	}
	return v[0] != nil, nil
}

// Close drops the cached subject keys; later calls return ErrClosed. It does
// not close the keystore (the caller owns it).
func (k *Keyring) Close() error {
	if k.closed.Swap(true) {
		return nil
	}
	k.cache.purge()
	return nil
}

// Stats are counters since Open. They hold counts only, never key names.
type Stats struct {
	CacheHits, CacheMisses, CacheEvictions uint64
	CacheSize                              int    // unwrapped subject keys cached now
	SubjectsCreated                        uint64 // new subject keys stored
	SubjectsUnwrapped                      uint64 // subject keys read and unwrapped from the keystore
	SubjectsForgotten                      uint64 // ForgetSubject calls that succeeded
	KMSCalls                               uint64 // GetAEAD, Encrypt and Decrypt calls to the KMS
	KMSGetAEAD, KMSWraps, KMSUnwraps       uint64 // KMSCalls by kind: GetAEAD, Encrypt (wrap), Decrypt (unwrap)
}

// Stats returns the counters.
func (k *Keyring) Stats() Stats {
	cs := k.cache.stats()
	return Stats{
		CacheHits:         cs.hits,
		CacheMisses:       cs.misses,
		CacheEvictions:    cs.evictions,
		CacheSize:         cs.len,
		SubjectsCreated:   k.created.Load(),
		SubjectsUnwrapped: k.unwrapped.Load(),
		SubjectsForgotten: k.forgotten.Load(),
		KMSCalls:          k.kmsCalls.total(),
		KMSGetAEAD:        k.kmsCalls.getAEAD.Load(),
		KMSWraps:          k.kmsCalls.encrypt.Load(),
		KMSUnwraps:        k.kmsCalls.decrypt.Load(),
	}
}
