package online

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/store"
)

// Redis keys and values. A key names the view by its numeric ID and the
// subject by its blind index (a keyed pseudonym), never by the raw entity
// key:
//
//	fv:{<blind index, 32 hex digits>}:<view ID>
//
// The braces are a Redis Cluster hash tag: every key of one subject hashes
// to one slot, so erasing a subject is one slot's work and the keys of a
// multi-entity read group into one pipeline per node.
//
// A value is the store's encrypted row, prefixed by what orders rows:
//
//	be64(event ns ^ 1<<63) | be64(created ns ^ 1<<63) | the store's encoded row
//
// The 16-byte prefix compares bytewise in the order of (event time,
// created time), which is how the store picks a subject's latest row; the
// set-if-newer script (redis.go) relies on it. The encoded row holds the
// schema version, the created time and the per-value ciphertexts exactly
// as the store holds them, so the server decrypts a value from Redis with
// the same key and associated data as one from the store.

// redisKey returns the Redis key of (view, subject).
func redisKey(viewID uint32, bi keys.BlindIndex) string {
	b := make([]byte, 0, 4+32+2+10)
	b = append(b, "fv:{"...)
	b = hex.AppendEncode(b, bi[:])
	b = append(b, "}:"...)
	b = strconv.AppendUint(b, uint64(viewID), 10)
	return string(b)
}

const orderLen = 16

// encodeValue returns the Redis value of r.
func encodeValue(r store.TierRow) []byte {
	b := make([]byte, 0, orderLen+len(r.Value))
	b = binary.BigEndian.AppendUint64(b, uint64(r.EventNanos)^1<<63)   // #nosec G115 -- bit reinterpretation, reversed by decodeValue
	b = binary.BigEndian.AppendUint64(b, uint64(r.CreatedNanos)^1<<63) // #nosec G115 -- bit reinterpretation, reversed by decodeValue
	return append(b, r.Value...)
}

var errValue = errors.New("online: a value in Redis is malformed")

// decodeValue parses a Redis value.
func decodeValue(b []byte) (store.TierRow, error) {
	if len(b) <= orderLen {
		return store.TierRow{}, errValue
	}
	return store.TierRow{
		EventNanos:   int64(binary.BigEndian.Uint64(b) ^ 1<<63),     // #nosec G115 -- see encodeValue
		CreatedNanos: int64(binary.BigEndian.Uint64(b[8:]) ^ 1<<63), // #nosec G115 -- see encodeValue
		Value:        b[orderLen:],
	}, nil
}

// subject names one (view, subject) pair.
type subject struct {
	viewID uint32
	bi     keys.BlindIndex
}
