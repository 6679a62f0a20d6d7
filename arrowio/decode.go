package arrowio

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featurevault/featurevault/store"
)

// SchemaError says everything that stops a table from being ingested into
// a view, each problem with what to do about it.
type SchemaError struct {
	View     string
	Problems []string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("arrowio: the table does not fit view %q:\n  - %s", e.View, strings.Join(e.Problems, "\n  - "))
}

// Decoder turns the record batches of a table into rows of a view. It
// checks the table's schema once, in NewDecoder; Decode then converts
// values and reports rows it cannot convert.
type Decoder struct {
	view   string
	keyCol int
	keyOf  func(arrow.Array) func(int) (string, string)
	evCol  int
	evOf   func(arrow.Array) func(int) (time.Time, bool)
	fields []fieldColumn
}

type fieldColumn struct {
	name string
	col  int
	conv converter
}

// converter binds to one column array and returns a function giving row
// i's value (nil for null) or a problem.
type converter func(arrow.Array) func(i int) (any, string)

// NewDecoder checks schema against view v (entity e) and returns a decoder
// for its record batches. The table needs the join-key column and
// event_timestamp; field columns may be any subset of the view's fields, in
// any order (missing fields are NULL). Types convert when no value can
// change:
//
//	join key   string keys: utf8, large_utf8; int64 keys: any integer type or a string
//	event_timestamp and timestamp fields: timestamp (any unit; no zone means UTC), date32, date64
//	bool       bool
//	int64      int8..int64, uint8..uint64 (a uint64 above the int64 range is refused)
//	float64    float64, float32
//	string     utf8, large_utf8
//	bytes      binary, large_binary, fixed_size_binary, utf8, large_utf8
//	list<float32>  list, large_list or fixed_size_list of float32
//
// Anything else fails with a *SchemaError listing every problem.
func NewDecoder(schema *arrow.Schema, v store.View, e store.Entity) (*Decoder, error) {
	d := &Decoder{view: v.Name, keyCol: -1, evCol: -1}
	var problems []string
	seen := map[string]bool{}
	for i, col := range schema.Fields() {
		if seen[col.Name] {
			problems = append(problems, fmt.Sprintf("column %q appears twice; keep one", col.Name))
			continue
		}
		seen[col.Name] = true
		switch col.Name {
		case e.JoinKey:
			d.keyCol = i
			if d.keyOf = keyConverter(col.Type, e.KeyType); d.keyOf == nil {
				problems = append(problems, fmt.Sprintf("column %q (the entity key) is %s; use %s", col.Name, col.Type, KeyType(e.KeyType)))
			}
			continue
		case EventTimeColumn:
			d.evCol = i
			if d.evOf = timeConverter(col.Type); d.evOf == nil {
				problems = append(problems, fmt.Sprintf("column %q is %s; use a timestamp (any unit; without a time zone it is read as UTC)", col.Name, col.Type))
			}
			continue
		}
		f, _, ok := v.Field(col.Name)
		if !ok {
			problems = append(problems, fmt.Sprintf("column %q is not a field of view %q; drop the column, or add the field to the view's spec and apply it", col.Name, v.Name))
			continue
		}
		conv := fieldConverter(col.Type, f.Type)
		if conv == nil {
			problems = append(problems, fmt.Sprintf("column %q is %s but field %q is %s; cast the column to %s", col.Name, col.Type, f.Name, f.Type, Type(f.Type)))
			continue
		}
		d.fields = append(d.fields, fieldColumn{name: f.Name, col: i, conv: conv})
	}
	if d.keyCol < 0 {
		problems = append(problems, fmt.Sprintf("no %q column: each row needs its entity key in a column named after the join key of entity %q", e.JoinKey, e.Name))
	}
	if d.evCol < 0 {
		problems = append(problems, fmt.Sprintf("no %q column: each row needs an event time (a timestamp column named %s)", EventTimeColumn, EventTimeColumn))
	}
	if len(problems) > 0 {
		return nil, &SchemaError{View: v.Name, Problems: problems}
	}
	return d, nil
}

// Fields returns the names of the view fields the table provides, in
// column order.
func (d *Decoder) Fields() []string {
	out := make([]string, len(d.fields))
	for i, f := range d.fields {
		out[i] = f.name
	}
	return out
}

// Decode converts rec into rows, appended to dst. A row that cannot be
// converted (a null entity key or event time, an integer out of range, a
// null list element) is left out of rows and reported as a refusal instead,
// at position first + its index in rec; kept[i] is the position in rec of
// rows[i]. Values are copies: rows stay valid after rec is released.
func (d *Decoder) Decode(rec arrow.RecordBatch, first int64, dst []store.Row) (rows []store.Row, kept []int, refused []store.Refusal) {
	n := int(rec.NumRows())
	keyAt := d.keyOf(rec.Column(d.keyCol))
	evAt := d.evOf(rec.Column(d.evCol))
	convs := make([]func(int) (any, string), len(d.fields))
	for j, f := range d.fields {
		convs[j] = f.conv(rec.Column(f.col))
	}
	keyName := rec.Schema().Field(d.keyCol).Name
	rows = slices.Grow(dst, n)
	kept = make([]int, 0, n)
	for i := range n {
		key, problem := keyAt(i)
		if problem != "" {
			refused = append(refused, store.Refusal{Row: first + int64(i), Column: keyName, Reason: problem})
			continue
		}
		at, ok := evAt(i)
		if !ok {
			refused = append(refused, store.Refusal{Row: first + int64(i), Column: EventTimeColumn, Reason: "event_timestamp is null; give every row an event time"})
			continue
		}
		vals := make(map[string]any, len(d.fields))
		bad := false
		for j, f := range d.fields {
			x, problem := convs[j](i)
			if problem != "" {
				refused = append(refused, store.Refusal{Row: first + int64(i), Column: f.name, Reason: fmt.Sprintf("field %q: %s", f.name, problem)})
				bad = true
				break
			}
			if x != nil {
				vals[f.name] = x
			}
		}
		if bad {
			continue
		}
		rows = append(rows, store.Row{EntityKey: key, EventTime: at, Values: vals})
		kept = append(kept, i)
	}
	return rows, kept, refused
}

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
				return slices.Clone(a.(interface{ Value(int) []byte }).Value(i)), ""
			})
		case arrow.FIXED_SIZE_BINARY:
			return nullable(func(a arrow.Array, i int) (any, string) { return slices.Clone(a.(*array.FixedSizeBinary).Value(i)), "" })
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
				return slices.Clone(elems.Float32Values()[start:end]), ""
			})
		}
	}
	return nil
}
