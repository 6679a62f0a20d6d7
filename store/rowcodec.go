package store

import (
	"encoding/binary"
	"errors"
)

// rowFormat is the version byte of the row encoding.
const rowFormat = 1

// A row value in the data KV (its key names view, subject and event time):
//
//	byte     row format (1)
//	uvarint  schema version the row was written under
//	varint   created time, unix nanoseconds
//	uvarint  n, the number of field slots that follow
//	n slots, in field order: uvarint h; h = 0 is NULL, else h-1 ciphertext bytes follow
//
// Each ciphertext is one field value encrypted on its own (AES-256-GCM,
// 12-byte nonce + 16-byte tag) with the associated data of aad.go. Fields
// added to the view after the row was written have no slot and read as NULL.
type encodedRow struct {
	schemaVersion uint32
	createdNanos  int64
	slots         [][]byte // nil: NULL
}

var errRowFormat = errors.New("malformed row")

func appendRowHeader(b []byte, schemaVersion uint32, createdNanos int64, n int) []byte {
	b = append(b, rowFormat)
	b = binary.AppendUvarint(b, uint64(schemaVersion))
	b = binary.AppendVarint(b, createdNanos)
	return binary.AppendUvarint(b, uint64(n)) // #nosec G115 -- n is a field count, never negative
}

func appendSlot(b, ciphertext []byte) []byte {
	if ciphertext == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ciphertext))+1)
	return append(b, ciphertext...)
}

// uvarint is binary.Uvarint that also refuses a padded encoding (a last
// byte of zero after the first, as in 0x80 0x00 for 0), so that a row
// value has exactly one encoding. n <= 0 means no canonical varint.
func uvarint(b []byte) (x uint64, n int) {
	x, n = binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, 0
	}
	return x, n
}

// varint is binary.Varint with uvarint's canonical check.
func varint(b []byte) (int64, int) {
	ux, n := uvarint(b)
	x := int64(ux >> 1) // #nosec G115 -- zig-zag decoding, as binary.Varint
	if ux&1 != 0 {
		x = ^x
	}
	return x, n
}

// decodeRow parses a row value, refusing any encoding appendRowHeader and
// appendSlot would not have written. Slots alias b.
func decodeRow(b []byte, r *encodedRow) error {
	if len(b) == 0 || b[0] != rowFormat {
		return errRowFormat
	}
	b = b[1:]
	sv, n := uvarint(b)
	if n <= 0 || sv > 1<<32-1 {
		return errRowFormat
	}
	b = b[n:]
	created, n := varint(b)
	if n <= 0 {
		return errRowFormat
	}
	b = b[n:]
	count, n := uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return errRowFormat
	}
	b = b[n:]
	r.schemaVersion, r.createdNanos = uint32(sv), created
	r.slots = r.slots[:0]
	for range count {
		h, n := uvarint(b)
		if n <= 0 {
			return errRowFormat
		}
		b = b[n:]
		if h == 0 {
			r.slots = append(r.slots, nil)
			continue
		}
		if h-1 > uint64(len(b)) {
			return errRowFormat
		}
		r.slots = append(r.slots, b[:h-1:h-1])
		b = b[h-1:]
	}
	if len(b) != 0 {
		return errRowFormat
	}
	return nil
}
