package keys

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// BlindIndex is the keyed PRF output that names a subject in storage: the
// first 16 bytes of HMAC-SHA256 (Tink prf) over lp(entity) || key. Without the
// blind-index key it reveals nothing about the raw entity key, so it is safe
// to store, log and put in audit records; the raw key never is.
type BlindIndex [16]byte

// String returns the blind index in hex. Safe to log: it is not the raw key.
func (b BlindIndex) String() string { return hex.EncodeToString(b[:]) }

// BlindIndex derives the blind index of the raw entity key key of entity
// (e.g. "customer", "c-42"). It is deterministic for the life of the
// blind-index key, which is created once and never rotates (rotating it would
// orphan every stored row). Two entities never share an index for one key.
// Safe for concurrent use.
func (k *Keyring) BlindIndex(entity, key string) (BlindIndex, error) {
	var bi BlindIndex
	if k.closed.Load() {
		return bi, ErrClosed
	}
	if entity == "" {
		return bi, fmt.Errorf("%w: empty entity name", ErrInvalidArgument)
	}
	in := make([]byte, 0, binary.MaxVarintLen64+len(entity)+len(key))
	in = appendLP(in, entity)
	in = append(in, key...)
	out, err := k.prf.ComputePrimaryPRF(in, uint32(len(bi)))
	if err != nil {
		return bi, fmt.Errorf("keys: compute blind index for entity %q: %w", entity, err)
	}
	copy(bi[:], out)
	return bi, nil
}
