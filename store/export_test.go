package store

// Test-only access to the row encoding, for tamper tests that edit stored
// bytes the way an attacker with disk access could.

// RowSlots returns the ciphertext slots and schema version of an encoded row.
func RowSlots(b []byte) (slots [][]byte, schemaVersion uint32, createdNanos int64, err error) {
	var r encodedRow
	if err := decodeRow(b, &r); err != nil {
		return nil, 0, 0, err
	}
	return r.slots, r.schemaVersion, r.createdNanos, nil
}

// EncodeRow re-encodes slots as a row value.
func EncodeRow(schemaVersion uint32, createdNanos int64, slots [][]byte) []byte {
	b := appendRowHeader(nil, schemaVersion, createdNanos, len(slots))
	for _, s := range slots {
		b = appendSlot(b, s)
	}
	return b
}

// RowKeyTag is the first byte of every row key.
const RowKeyTag = rowTag

// SwapRowKeyTime returns k with its event time replaced.
func SwapRowKeyTime(k []byte, eventNanos int64) []byte {
	bi, _, ok := parseRowKey(k)
	if !ok {
		panic("not a row key")
	}
	return rowKey(viewIDOf(k), bi, eventNanos)
}

func viewIDOf(k []byte) uint32 {
	return uint32(k[1])<<24 | uint32(k[2])<<16 | uint32(k[3])<<8 | uint32(k[4])
}
