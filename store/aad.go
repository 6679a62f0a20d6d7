package store

import (
	"encoding/binary"

	"github.com/featurevault/featurevault/keys"
)

// Associated data binds every ciphertext to where it belongs, so that a
// ciphertext copied to another field, row, view or subject fails to decrypt.
//
// The encoding is canonical and length-prefixed, so a reader can recompute
// it from the row key and the registry alone:
//
//	value:   "fv1/value" | lp(view) | subject blind index (16) | be64(event time, unix ns) | uvarint(schema version) | lp(field)
//	subject: "fv1/subject" | lp(entity) | subject blind index (16)
//
// where lp(s) is uvarint(len(s)) followed by s. The field name comes last so
// that one row's values share a prefix (see rowAAD).
const (
	aadValueTag   = "fv1/value"
	aadSubjectTag = "fv1/subject"
)

// rowAAD is the part of the associated data shared by every value of a row.
type rowAAD struct {
	buf    []byte
	prefix int // length of the shared prefix in buf
}

func newRowAAD(view string, bi keys.BlindIndex, eventNanos int64, schemaVersion uint32) rowAAD {
	b := make([]byte, 0, len(aadValueTag)+len(view)+48)
	b = append(b, aadValueTag...)
	b = appendLP(b, view)
	b = append(b, bi[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(eventNanos)) // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding
	b = binary.AppendUvarint(b, uint64(schemaVersion))
	return rowAAD{buf: b, prefix: len(b)}
}

// field returns the associated data of one field. The slice is reused by the
// next call: use it before calling again.
func (r *rowAAD) field(name string) []byte {
	r.buf = appendLP(r.buf[:r.prefix], name)
	return r.buf
}

// subjectAAD is the associated data of a subject record (the encrypted raw
// entity key).
func subjectAAD(entity string, bi keys.BlindIndex) []byte {
	b := make([]byte, 0, len(aadSubjectTag)+len(entity)+24)
	b = append(b, aadSubjectTag...)
	b = appendLP(b, entity)
	return append(b, bi[:]...)
}

func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
