package arrowio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The metadata of an Arrow IPC message is a flatbuffer (format/Message.fbs,
// Schema.fbs) that arrow-go reads without checking it: a vector length is
// trusted and allocated (make([]arrow.Field, n) with n from the input), so
// a 60-byte schema message claiming four billion fields kills the process
// with "fatal error: runtime: out of memory", which no recover catches.
// verifyMessage checks, before arrow-go sees the metadata, that every
// table, vector and string it will read lies inside the buffer, that type
// nesting is shallow, and that the whole walk is proportional to the
// buffer's size. It reads only the fields arrow-go reads.

// maxNesting bounds how deeply field types nest (a list of structs of
// lists...). arrow-go converts them recursively.
const maxNesting = 64

// Message header types (MessageHeader in Message.fbs).
const (
	headerSchema          = 1
	headerDictionaryBatch = 2
	headerRecordBatch     = 3
)

// Type union members (Type in Schema.fbs) whose tables hold more than
// scalars.
const (
	typeTimestamp = 10
	typeUnion     = 14
)

var errBadFlatbuffer = errors.New("arrowio: IPC message metadata is not a valid Arrow flatbuffer")

// fbVerifier walks one flatbuffer, counting the tables it visits against a
// budget so that tables shared many times over cannot make the walk (and
// arrow-go's, which follows the same links) exponential.
type fbVerifier struct {
	b      []byte
	budget int
}

// verifyMessage checks the metadata of one IPC message and returns the
// body length it declares.
func verifyMessage(meta []byte) (int64, error) {
	v := &fbVerifier{b: meta, budget: len(meta)/4 + 64}
	root, ok := v.offsetAt(0)
	if !ok {
		return 0, errBadFlatbuffer
	}
	msg, ok := v.table(root)
	if !ok {
		return 0, errBadFlatbuffer
	}
	// Message: version 0, header_type 1, header 2, bodyLength 3, custom_metadata 4.
	kind, _ := msg.scalar(1, 1)
	header, ok := msg.table(2)
	if !ok || !msg.keyValues(4) {
		return 0, errBadFlatbuffer
	}
	switch kind {
	case headerSchema:
		ok = header.schema()
	case headerDictionaryBatch:
		var batch fbTable
		var present bool
		batch, present, ok = header.optTable(1) // DictionaryBatch: id 0, data 1, isDelta 2
		ok = ok && (!present || batch.recordBatch())
	case headerRecordBatch:
		ok = header.recordBatch()
	default:
		return 0, fmt.Errorf("arrowio: IPC message of type %d; an Arrow stream holds a schema, dictionaries and record batches", kind)
	}
	if !ok {
		return 0, errBadFlatbuffer
	}
	body, _ := msg.scalar(3, 8)
	return int64(body), nil // #nosec G115 -- the signed int64 of the format; negative is refused by the caller
}

func (v *fbVerifier) u16(at uint64) (uint64, bool) {
	if at+2 > uint64(len(v.b)) {
		return 0, false
	}
	return uint64(binary.LittleEndian.Uint16(v.b[at:])), true
}

func (v *fbVerifier) u32(at uint64) (uint64, bool) {
	if at+4 > uint64(len(v.b)) {
		return 0, false
	}
	return uint64(binary.LittleEndian.Uint32(v.b[at:])), true
}

// offsetAt follows the unsigned offset stored at at.
func (v *fbVerifier) offsetAt(at uint64) (uint64, bool) {
	off, ok := v.u32(at)
	return at + off, ok
}

// fbTable is a verified table: its position and vtable.
type fbTable struct {
	v      *fbVerifier
	pos    uint64
	vtab   uint64
	vtSize uint64
	tSize  uint64
}

// table verifies the table at pos: its vtable and its inline part lie in
// the buffer.
func (v *fbVerifier) table(pos uint64) (fbTable, bool) {
	if v.budget--; v.budget < 0 {
		return fbTable{}, false
	}
	so, ok := v.u32(pos)
	if !ok {
		return fbTable{}, false
	}
	vtab := int64(pos) - int64(int32(uint32(so))) // #nosec G115 -- pos < len(b); soffset is a signed 32-bit field
	if vtab < 0 {
		return fbTable{}, false
	}
	t := fbTable{v: v, pos: pos, vtab: uint64(vtab)}
	var ok1, ok2 bool
	t.vtSize, ok1 = v.u16(t.vtab)
	t.tSize, ok2 = v.u16(t.vtab + 2)
	if !ok1 || !ok2 || t.vtSize < 4 || t.vtSize%2 != 0 || t.vtab+t.vtSize > uint64(len(v.b)) ||
		t.tSize < 4 || pos+t.tSize > uint64(len(v.b)) {
		return fbTable{}, false
	}
	return t, true
}

// field returns the position of field i and whether it is present, after
// checking that size bytes there lie inside the table.
func (t fbTable) field(i int, size uint64) (uint64, bool, bool) {
	slot := 4 + 2*uint64(i) // #nosec G115 -- i is a small constant field index
	if slot+2 > t.vtSize {
		return 0, false, true
	}
	fo, _ := t.v.u16(t.vtab + slot)
	if fo == 0 {
		return 0, false, true
	}
	if fo+size > t.tSize {
		return 0, false, false
	}
	return t.pos + fo, true, true
}

// scalar reads field i, size bytes little-endian, or 0 when absent or
// out of place (arrow-go reads scalars checked, or panics and recovers).
func (t fbTable) scalar(i int, size uint64) (uint64, bool) {
	at, present, ok := t.field(i, size)
	if !present || !ok {
		return 0, ok
	}
	var x uint64
	for k := range size {
		x |= uint64(t.v.b[at+k]) << (8 * k)
	}
	return x, true
}

// optTable verifies the table field i refers to, if present.
func (t fbTable) optTable(i int) (fbTable, bool, bool) {
	at, present, ok := t.field(i, 4)
	if !present || !ok {
		return fbTable{}, false, ok
	}
	target, ok := t.v.offsetAt(at)
	if !ok {
		return fbTable{}, false, false
	}
	sub, ok := t.v.table(target)
	return sub, ok, ok
}

// table verifies the table field i refers to; absent is not ok.
func (t fbTable) table(i int) (fbTable, bool) {
	sub, present, ok := t.optTable(i)
	return sub, present && ok
}

// vector verifies the vector field i refers to, of elements of elem bytes,
// and returns the position of its first element and its length.
func (t fbTable) vector(i int, elem uint64) (start, n uint64, ok bool) {
	at, present, ok := t.field(i, 4)
	if !present || !ok {
		return 0, 0, ok
	}
	vec, ok := t.v.offsetAt(at)
	if !ok {
		return 0, 0, false
	}
	n, ok = t.v.u32(vec)
	if !ok || vec+4+n*elem > uint64(len(t.v.b)) {
		return 0, 0, false
	}
	return vec + 4, n, true
}

// str verifies the string field i refers to.
func (t fbTable) str(i int) bool {
	_, _, ok := t.vector(i, 1)
	return ok
}

// tables verifies each table of the vector of tables field i refers to.
func (t fbTable) tables(i int, each func(fbTable) bool) bool {
	start, n, ok := t.vector(i, 4)
	if !ok {
		return false
	}
	for k := range n {
		target, ok := t.v.offsetAt(start + 4*k)
		if !ok {
			return false
		}
		sub, ok := t.v.table(target)
		if !ok || !each(sub) {
			return false
		}
	}
	return true
}

// keyValues verifies a [KeyValue] field: key 0, value 1, strings.
func (t fbTable) keyValues(i int) bool {
	return t.tables(i, func(kv fbTable) bool { return kv.str(0) && kv.str(1) })
}

// schema verifies a Schema: endianness 0, fields 1, custom_metadata 2,
// features 3.
func (t fbTable) schema() bool {
	_, _, ok := t.vector(3, 8)
	return ok && t.keyValues(2) && t.tables(1, func(f fbTable) bool { return f.fieldNode(0) })
}

// fieldNode verifies a Field at nesting depth: name 0, nullable 1,
// type_type 2, type 3, dictionary 4, children 5, custom_metadata 6.
func (t fbTable) fieldNode(depth int) bool {
	if depth > maxNesting || !t.str(0) || !t.keyValues(6) {
		return false
	}
	typ, ok := t.scalar(2, 1)
	if !ok {
		return false
	}
	tt, present, ok := t.optTable(3)
	if !ok {
		return false
	}
	if present {
		switch typ {
		case typeTimestamp: // unit 0, timezone 1
			ok = tt.str(1)
		case typeUnion: // mode 0, typeIds 1
			_, _, ok = tt.vector(1, 4)
		}
		if !ok {
			return false
		}
	}
	if dict, present, ok := t.optTable(4); !ok || present && !dict.dictionaryEncoding() {
		return false
	}
	return t.tables(5, func(c fbTable) bool { return c.fieldNode(depth + 1) })
}

// dictionaryEncoding verifies a DictionaryEncoding: id 0, indexType 1
// (an Int table of scalars), isOrdered 2, dictionaryKind 3.
func (t fbTable) dictionaryEncoding() bool {
	_, _, ok := t.optTable(1)
	return ok
}

// recordBatch verifies a RecordBatch: length 0, nodes 1 and buffers 2
// (vectors of 16-byte structs), compression 3, variadicBufferCounts 4
// (each a count of buffers, so at most the number of buffers).
func (t fbTable) recordBatch() bool {
	_, _, ok1 := t.vector(1, 16)
	_, nBuffers, ok2 := t.vector(2, 16)
	_, _, ok3 := t.optTable(3)
	start, n, ok4 := t.vector(4, 8)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return false
	}
	for k := range n {
		c := binary.LittleEndian.Uint64(t.v.b[start+8*k:])
		if c > nBuffers {
			return false
		}
	}
	return true
}
