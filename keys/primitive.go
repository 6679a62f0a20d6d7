package keys

import (
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// A cachedKey is an unwrapped subject key as the Keyring's cache holds it.
//
// A subject keyset almost always holds one AES-256-GCM key with no output
// prefix. The cache then keeps Tink's key object (about 130 bytes) and
// builds the primitive from it on each lookup (aesgcm.NewAEAD, about a
// microsecond), rather than keeping the primitive: an AES-GCM primitive
// holds its expanded key schedules and GHASH tables, about 820 bytes, and a
// cache of 100 000 of them held 80 MB of the heap — a third of the default
// memory budget, which left the collector too little room (BENCHMARKS.md,
// issue 13). The primitive built straight from the key also skips the
// keyset wrapper's per-ciphertext prefix lookup, about a third of the cost
// of decrypting a small value (issue 7). The key stays inside Tink's key
// object: no key bytes pass through here.
//
// Any other keyset (several keys while a subject key rotates, another key
// type) keeps its primitive, built once through aead.New.
type cachedKey struct {
	gcm   *aesgcm.Key
	other tink.AEAD
}

// cachedKeyOf is the cache's form of a subject keyset. It fails for a
// keyset that is not an AEAD.
func cachedKeyOf(h *keyset.Handle) (cachedKey, error) {
	if h.Len() == 1 {
		if e, err := h.Primary(); err == nil {
			if k, ok := e.Key().(*aesgcm.Key); ok && len(k.OutputPrefix()) == 0 {
				return cachedKey{gcm: k}, nil
			}
		}
	}
	a, err := aead.New(h)
	return cachedKey{other: a}, err
}

// primitive is the key's AEAD.
func (c cachedKey) primitive() (tink.AEAD, error) {
	if c.gcm == nil {
		return c.other, nil
	}
	a, err := aesgcm.NewAEAD(c.gcm)
	if err != nil {
		return nil, fmt.Errorf("keys: subject key primitive: %w", err)
	}
	return a, nil
}
