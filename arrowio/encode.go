package arrowio

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/store"
)

// Encoder turns store batches into Arrow record batches of one schema (key,
// event time, the batch's fields), reusing its builders from batch to
// batch.
type Encoder struct {
	schema *arrow.Schema
	b      *array.RecordBuilder
	keyInt bool
}

// NewEncoder returns an encoder for the rows of view v (entity e) with the
// given fields, which must be those of the batches it will encode. Release
// it when done.
func NewEncoder(mem memory.Allocator, v store.View, e store.Entity, fields []store.Field) (*Encoder, error) {
	schema, err := Schema(v, e, fields)
	if err != nil {
		return nil, err
	}
	return &Encoder{schema: schema, b: array.NewRecordBuilder(mem, schema), keyInt: e.KeyType == store.KeyInt64}, nil
}

// Schema returns the schema of the record batches the encoder builds.
func (enc *Encoder) Schema() *arrow.Schema { return enc.schema }

// Encode returns batch b as a record batch; the caller releases it.
func (enc *Encoder) Encode(b *store.Batch) (arrow.RecordBatch, error) {
	n := b.Len()
	enc.b.Reserve(n)
	if err := appendKeys(enc.b.Field(0), b, enc.keyInt); err != nil {
		enc.discard()
		return nil, err
	}
	ts := enc.b.Field(1).(*array.TimestampBuilder)
	for i := range n {
		ts.UnsafeAppend(arrow.Timestamp(b.EventNanos(i)))
	}
	for j := range b.Fields() {
		if err := AppendColumn(enc.b.Field(2+j), b, j); err != nil {
			enc.discard()
			return nil, err
		}
	}
	return enc.b.NewRecordBatch(), nil
}

// discard drops whatever a failed Encode appended.
func (enc *Encoder) discard() { enc.b.NewRecordBatch().Release() }

// Release releases the encoder's builders.
func (enc *Encoder) Release() { enc.b.Release() }

func appendKeys(bldr array.Builder, b *store.Batch, asInt bool) error {
	if !asInt {
		sb := bldr.(*array.StringBuilder)
		for i := range b.Len() {
			sb.Append(b.EntityKey(i))
		}
		return nil
	}
	ib := bldr.(*array.Int64Builder)
	for i := range b.Len() {
		n, err := strconv.ParseInt(b.EntityKey(i), 10, 64)
		if err != nil {
			return fmt.Errorf("arrowio: row %d: stored int64 entity key does not parse", i)
		}
		ib.UnsafeAppend(n)
	}
	return nil
}

// AppendColumn appends field j of every row of b to bldr, which must be a
// builder of Type(b.Fields()[j].Type); NULL values and rows that were not
// found append nulls. It fails only for a timestamp value that
// timestamp[ns] cannot hold (outside 1677-09-21..2262-04-11), naming the
// row and field.
func AppendColumn(bldr array.Builder, b *store.Batch, j int) error {
	return AppendColumnRows(bldr, b, j, nil)
}

// AppendColumnRows is AppendColumn for the rows rows names, in that order:
// rows[k] is a row of b, or -1 to append a null. A nil rows means every row
// of b.
func AppendColumnRows(bldr array.Builder, b *store.Batch, j int, rows []int) error {
	n := len(rows)
	if rows == nil {
		n = b.Len()
	}
	row := func(k int) int {
		if rows == nil {
			return k
		}
		return rows[k]
	}
	null := func(i int) bool { return i < 0 || b.IsNull(i, j) }
	bldr.Reserve(n)
	f := b.Fields()[j]
	switch f.Type {
	case store.Bool:
		cb := bldr.(*array.BooleanBuilder)
		for k := range n {
			if i := row(k); null(i) {
				cb.UnsafeAppendBoolToBitmap(false)
			} else {
				cb.UnsafeAppend(b.Bool(i, j))
			}
		}
	case store.Int64:
		cb := bldr.(*array.Int64Builder)
		for k := range n {
			if i := row(k); null(i) {
				cb.UnsafeAppendBoolToBitmap(false)
			} else {
				cb.UnsafeAppend(b.Int64(i, j))
			}
		}
	case store.Float64:
		cb := bldr.(*array.Float64Builder)
		for k := range n {
			if i := row(k); null(i) {
				cb.UnsafeAppendBoolToBitmap(false)
			} else {
				cb.UnsafeAppend(b.Float64(i, j))
			}
		}
	case store.String, store.Bytes:
		cb := binaryBuilder(bldr)
		for k := range n {
			if i := row(k); null(i) {
				cb.AppendNull()
			} else {
				cb.Append(b.Bytes(i, j))
			}
		}
	case store.Timestamp:
		cb := bldr.(*array.TimestampBuilder)
		for k := range n {
			i := row(k)
			if null(i) {
				cb.UnsafeAppendBoolToBitmap(false)
				continue
			}
			t := b.Time(i, j)
			if t.Before(minNanoTime) || t.After(maxNanoTime) {
				return fmt.Errorf("arrowio: row %d: timestamp field %q holds a value outside 1677-09-21..2262-04-11, which timestamp[ns] cannot hold", i, f.Name)
			}
			cb.UnsafeAppend(arrow.Timestamp(t.UnixNano()))
		}
	case store.Float32List:
		cb := bldr.(*array.ListBuilder)
		vb := cb.ValueBuilder().(*array.Float32Builder)
		var buf []float32
		for k := range n {
			i := row(k)
			if null(i) {
				cb.AppendNull()
				continue
			}
			buf = b.AppendFloat32s(buf[:0], i, j)
			cb.Append(true)
			vb.AppendValues(buf, nil)
		}
	default:
		return fmt.Errorf("arrowio: field %q has unknown type %s", f.Name, f.Type)
	}
	return nil
}

// binaryBuilder returns the BinaryBuilder under a string or binary builder.
func binaryBuilder(b array.Builder) *array.BinaryBuilder {
	if sb, ok := b.(*array.StringBuilder); ok {
		return sb.BinaryBuilder
	}
	return b.(*array.BinaryBuilder)
}

// The range of timestamp[ns].
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)
