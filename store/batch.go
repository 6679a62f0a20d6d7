package store

import (
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/featurevault/featurevault/keys"
)

// Batch is a block of decrypted rows of one view, filled by Scanner.Next
// or GetHistorical, and read column by column by the typed accessors. Values
// are kept in their plaintext encodings and decoded on access, so a batch
// of a million float64 values costs no boxing and no per-value allocation
// beyond the decryption itself.
//
// A Batch holds plaintext feature values and raw entity keys: never log it.
// It and every slice it returns are valid until the call that refills it
// (the next Scanner.Next); copy what you keep.
//
// Row i has a value per selected field j (0 ≤ j < len(Fields())); accessors
// of the wrong type for the field, or of a NULL value, panic, like an
// out-of-range index: check Fields()[j].Type and IsNull first.
type Batch struct {
	fields   []Field
	n        int
	keys     []string
	subjects []keys.BlindIndex
	events   []int64
	created  []int64
	found    []bool
	cells    [][]byte // n*len(fields), row-major; nil: NULL
}

// Len returns the number of rows.
func (b *Batch) Len() int { return b.n }

// Fields returns the selected fields, in column order. Do not modify it.
func (b *Batch) Fields() []Field { return b.fields }

// EntityKey returns the raw (canonical) entity key of row i, decrypted
// from its subject record.
func (b *Batch) EntityKey(i int) string { return b.keys[i] }

// Subject returns row i's blind index: the pseudonymous name of its
// subject, the same for every row of one entity key in this view's entity.
func (b *Batch) Subject(i int) keys.BlindIndex { return b.subjects[i] }

// EventNanos returns the event time of row i in Unix nanoseconds.
func (b *Batch) EventNanos(i int) int64 { return b.events[i] }

// EventTime returns the event time of row i, in UTC.
func (b *Batch) EventTime(i int) time.Time { return time.Unix(0, b.events[i]).UTC() }

// CreatedTime returns when row i was written, in UTC.
func (b *Batch) CreatedTime(i int) time.Time { return time.Unix(0, b.created[i]).UTC() }

// Found reports whether a stored row answered row i. Scans only return
// found rows; a point-in-time lookup that matched nothing (no row early
// enough, outside the TTL, or an erased subject) is not found, and all its
// values are NULL.
func (b *Batch) Found(i int) bool { return b.found[i] }

func (b *Batch) cell(i, j int) []byte { return b.cells[i*len(b.fields)+j] }

// IsNull reports whether row i holds no value for field j.
func (b *Batch) IsNull(i, j int) bool { return b.cell(i, j) == nil }

// Bool returns the value of a bool field.
func (b *Batch) Bool(i, j int) bool { return b.cell(i, j)[0] == 1 }

// Int64 returns the value of an int64 field.
func (b *Batch) Int64(i, j int) int64 { return int64(binary.BigEndian.Uint64(b.cell(i, j))) } // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding

// Float64 returns the value of a float64 field.
func (b *Batch) Float64(i, j int) float64 {
	return math.Float64frombits(binary.BigEndian.Uint64(b.cell(i, j)))
}

// Bytes returns the value of a string field (its UTF-8 bytes) or of a
// bytes field. The slice is shared: do not modify it.
func (b *Batch) Bytes(i, j int) []byte { return b.cell(i, j) }

// Time returns the value of a timestamp field, in UTC.
func (b *Batch) Time(i, j int) time.Time {
	p := b.cell(i, j)
	return time.Unix(int64(binary.BigEndian.Uint64(p)), int64(binary.BigEndian.Uint32(p[8:]))).UTC() // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding; nanoseconds < 1e9 fit
}

// ListLen returns the number of elements of a list<float32> value.
func (b *Batch) ListLen(i, j int) int { return len(b.cell(i, j)) / 4 }

// AppendFloat32s appends the elements of a list<float32> value to dst.
func (b *Batch) AppendFloat32s(dst []float32, i, j int) []float32 {
	p := b.cell(i, j)
	for k := 0; k < len(p); k += 4 {
		dst = append(dst, math.Float32frombits(binary.BigEndian.Uint32(p[k:])))
	}
	return dst
}

// Value returns the value of row i, field j as the Go value Write takes
// (nil for NULL). It allocates; the typed accessors do not.
func (b *Batch) Value(i, j int) any {
	p := b.cell(i, j)
	if p == nil {
		return nil
	}
	v, _ := decodePlain(b.fields[j].Type, p)
	if bs, ok := v.([]byte); ok {
		return slices.Clone(bs)
	}
	return v
}

// reset empties the batch for n rows, reusing its slices.
func (b *Batch) reset(n int) {
	b.n = n
	b.keys = resize(b.keys, n)
	b.subjects = resize(b.subjects, n)
	b.events = resize(b.events, n)
	b.created = resize(b.created, n)
	b.found = resize(b.found, n)
	b.cells = resize(b.cells, n*len(b.fields))
	clear(b.keys)
	clear(b.found)
	clear(b.cells)
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// validPlain reports whether p has the length a value of type t encodes
// to; anything else means the bytes are not what was written.
func validPlain(t FieldType, p []byte) bool {
	switch t {
	case Bool:
		return len(p) == 1 && p[0] <= 1
	case Int64, Float64:
		return len(p) == 8
	case Timestamp:
		return len(p) == 12
	case Float32List:
		return len(p)%4 == 0
	}
	return true
}
