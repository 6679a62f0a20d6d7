package store

import (
	"encoding/binary"

	"github.com/featurevault/featurevault/keys"
)

// The data KV's key space. Nothing in a key is a value or a raw entity key:
//
//	m/...                                   registry metadata (names, types, tags)
//	'r' | be32(view ID) | bi(16) | invertTime(event ns)   one row; newest first per subject
//	's' | lp(entity) | bi(16)                subject record: the raw entity key, encrypted
//	'x' | lp(entity) | bi(16)                suppression entry of an erased subject (erase.go)
//	'o' | lp(entity) | bi(16)                purposes the subject is restricted for (restrict.go)
//
// Inverting the event time makes the newest row of a subject the first key
// under its prefix, so an online read is one seek per entity.
const (
	rowTag     = 'r'
	subjectTag = 's'
	rowKeyLen  = 1 + 4 + 16 + 8
)

// rowPrefixLen is the length of a row key without its event time: the
// prefix every row of one (view, subject) shares.
const rowPrefixLen = rowKeyLen - 8

func rowPrefix(viewID uint32, bi keys.BlindIndex) []byte {
	return appendRowPrefix(make([]byte, 0, rowKeyLen), viewID, bi)
}

// appendRowPrefix appends the row prefix of (view, subject) to b.
func appendRowPrefix(b []byte, viewID uint32, bi keys.BlindIndex) []byte {
	b = append(b, rowTag)
	b = binary.BigEndian.AppendUint32(b, viewID)
	return append(b, bi[:]...)
}

func rowKey(viewID uint32, bi keys.BlindIndex, eventNanos int64) []byte {
	return binary.BigEndian.AppendUint64(rowPrefix(viewID, bi), invertTime(eventNanos))
}

// parseRowKey returns the blind index and event time in a row key.
func parseRowKey(k []byte) (bi keys.BlindIndex, eventNanos int64, ok bool) {
	if len(k) != rowKeyLen || k[0] != rowTag {
		return bi, 0, false
	}
	copy(bi[:], k[5:21])
	return bi, revertTime(binary.BigEndian.Uint64(k[21:])), true
}

// invertTime maps event times to big-endian-sortable integers in descending
// order: the sign bit is flipped (so times before 1970 sort below later
// ones), then every bit is inverted (newest first).
func invertTime(ns int64) uint64 { return ^(uint64(ns) ^ 1<<63) } // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding

func revertTime(u uint64) int64 { return int64(^u ^ 1<<63) } // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding

func subjectKey(entity string, bi keys.BlindIndex) []byte {
	b := make([]byte, 0, 1+len(entity)+18)
	b = append(b, subjectTag)
	b = appendLP(b, entity)
	return append(b, bi[:]...)
}
