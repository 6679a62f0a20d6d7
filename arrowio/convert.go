package arrowio

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featurevault/featurevault/store"
)

// The converters of Decoder: one per (Arrow type, view type) pair that
// converts without changing a value. Each binds to a column array once per
// record batch and then reads values by row, reporting values it cannot
// convert (a uint64 above the int64 range, a null list element) as a
// problem rather than an error.

// keyConverter reads an entity-key column as canonical key strings.
func keyConverter(t arrow.DataType, kt store.KeyType) func(arrow.Array) func(int) (string, string) {
	const null = "the entity key is null; give every row its entity key"
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return func(a arrow.Array) func(int) (string, string) {
			s := a.(array.StringLike)
			return func(i int) (string, string) {
				if s.IsNull(i) {
					return "", null
				}
				return strings.Clone(s.Value(i)), ""
			}
		}
	}
	if kt != store.KeyInt64 {
		return nil
	}
	ints := intConverter(t)
	if ints == nil {
		return nil
	}
	return func(a arrow.Array) func(int) (string, string) {
		at := ints(a)
		return func(i int) (string, string) {
			if a.IsNull(i) {
				return "", null
			}
			n, problem := at(i)
			if problem != "" {
				return "", "the entity key " + problem
			}
			return strconv.FormatInt(n, 10), ""
		}
	}
}

// intConverter reads any integer column as int64.
func intConverter(t arrow.DataType) func(arrow.Array) func(int) (int64, string) {
	signed := func(get func(arrow.Array, int) int64) func(arrow.Array) func(int) (int64, string) {
		return func(a arrow.Array) func(int) (int64, string) {
			return func(i int) (int64, string) { return get(a, i), "" }
		}
	}
	switch t.ID() {
	case arrow.INT8:
		return signed(func(a arrow.Array, i int) int64 { return int64(a.(*array.Int8).Value(i)) })
	case arrow.INT16:
		return signed(func(a arrow.Array, i int) int64 { return int64(a.(*array.Int16).Value(i)) })
	case arrow.INT32:
		return signed(func(a arrow.Array, i int) int64 { return int64(a.(*array.Int32).Value(i)) })
	case arrow.INT64:
		return func(a arrow.Array) func(int) (int64, string) {
			vs := a.(*array.Int64).Int64Values()
			return func(i int) (int64, string) { return vs[i], "" }
		}
	case arrow.UINT8:
		return signed(func(a arrow.Array, i int) int64 { return int64(a.(*array.Uint8).Value(i)) })
	case arrow.UINT16:
		return signed(func(a arrow.Array, i int) int64 { return int64(a.(*array.Uint16).Value(i)) })
	case arrow.UINT32:
		return signed(func(a arrow.Array, i int) int64 { return int64(a.(*array.Uint32).Value(i)) })
	case arrow.UINT64:
		return func(a arrow.Array) func(int) (int64, string) {
			vs := a.(*array.Uint64).Uint64Values()
			return func(i int) (int64, string) {
				if vs[i] > math.MaxInt64 {
					return 0, "is a uint64 above the int64 range"
				}
				return int64(vs[i]), ""
			}
		}
	}
	return nil
}

// timeConverter reads timestamp and date columns; ok is false for null.
func timeConverter(t arrow.DataType) func(arrow.Array) func(int) (time.Time, bool) {
	switch dt := t.(type) {
	case *arrow.TimestampType:
		unit := dt.Unit
		return func(a arrow.Array) func(int) (time.Time, bool) {
			ts := a.(*array.Timestamp)
			vs := ts.TimestampValues()
			return func(i int) (time.Time, bool) {
				if ts.IsNull(i) {
					return time.Time{}, false
				}
				return vs[i].ToTime(unit), true
			}
		}
	case *arrow.Date32Type:
		return func(a arrow.Array) func(int) (time.Time, bool) {
			d := a.(*array.Date32)
			return func(i int) (time.Time, bool) { return d.Value(i).ToTime(), d.IsValid(i) }
		}
	case *arrow.Date64Type:
		return func(a arrow.Array) func(int) (time.Time, bool) {
			d := a.(*array.Date64)
			return func(i int) (time.Time, bool) { return d.Value(i).ToTime(), d.IsValid(i) }
		}
	}
	return nil
}

// fieldConverter returns the converter from column type t to field type
// ft, or nil when the column cannot hold values of the field.
func fieldConverter(t arrow.DataType, ft store.FieldType) converter {
	nullable := func(get func(a arrow.Array, i int) (any, string)) converter {
		return func(a arrow.Array) func(int) (any, string) {
			return func(i int) (any, string) {
				if a.IsNull(i) {
					return nil, ""
				}
				return get(a, i)
			}
		}
	}
	switch ft {
	case store.Bool:
		if t.ID() == arrow.BOOL {
			return nullable(func(a arrow.Array, i int) (any, string) { return a.(*array.Boolean).Value(i), "" })
		}
	case store.Int64:
		if ints := intConverter(t); ints != nil {
			return func(a arrow.Array) func(int) (any, string) {
				at := ints(a)
				return func(i int) (any, string) {
					if a.IsNull(i) {
						return nil, ""
					}
					n, problem := at(i)
					if problem != "" {
						return nil, "the value " + problem
					}
					return n, ""
				}
			}
		}
	case store.Float64:
		switch t.ID() {
		case arrow.FLOAT64:
			return func(a arrow.Array) func(int) (any, string) {
				vs := a.(*array.Float64).Float64Values()
				return func(i int) (any, string) {
					if a.IsNull(i) {
						return nil, ""
					}
					return vs[i], ""
				}
			}
		case arrow.FLOAT32:
			return nullable(func(a arrow.Array, i int) (any, string) { return float64(a.(*array.Float32).Value(i)), "" })
		}
	case store.String:
		switch t.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
			return nullable(func(a arrow.Array, i int) (any, string) { return strings.Clone(a.(array.StringLike).Value(i)), "" })
		}
	case store.Bytes:
		switch t.ID() {
		case arrow.BINARY, arrow.LARGE_BINARY:
			return nullable(func(a arrow.Array, i int) (any, string) {
				return append([]byte{}, a.(interface{ Value(int) []byte }).Value(i)...), ""
			})
		case arrow.FIXED_SIZE_BINARY:
			return nullable(func(a arrow.Array, i int) (any, string) {
				return append([]byte{}, a.(*array.FixedSizeBinary).Value(i)...), ""
			})
		case arrow.STRING, arrow.LARGE_STRING:
			return nullable(func(a arrow.Array, i int) (any, string) { return []byte(a.(array.StringLike).Value(i)), "" })
		}
	case store.Timestamp:
		if conv := timeConverter(t); conv != nil {
			return func(a arrow.Array) func(int) (any, string) {
				at := conv(a)
				return func(i int) (any, string) {
					if x, ok := at(i); ok {
						return x, ""
					}
					return nil, ""
				}
			}
		}
	case store.Float32List:
		if lt, ok := t.(arrow.ListLikeType); ok && lt.Elem().ID() == arrow.FLOAT32 {
			return nullable(func(a arrow.Array, i int) (any, string) {
				l := a.(array.ListLike)
				start, end := l.ValueOffsets(i)
				elems := l.ListValues().(*array.Float32)
				if elems.NullN() > 0 {
					for k := start; k < end; k++ {
						if elems.IsNull(int(k)) {
							return nil, "the list has a null element; lists hold numbers only"
						}
					}
				}
				return append([]float32{}, elems.Float32Values()[start:end]...), ""
			})
		}
	}
	return nil
}
