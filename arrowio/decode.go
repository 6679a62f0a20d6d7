package arrowio

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

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

// pandasIndex matches the names pandas gives DataFrame index columns.
var pandasIndex = regexp.MustCompile(`^__index_level_\d+__$`)

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
// Anything else fails with a *SchemaError listing every problem. Columns
// named __index_level_N__ (the index pandas writes into Parquet files) are
// ignored.
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
		if pandasIndex.MatchString(col.Name) {
			continue // the index pandas.DataFrame.to_parquet writes: not data
		}
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
//
// rec must be well formed: read it with NewStreamReader or OpenFile,
// which validate every batch. Arrow arrays trust their offsets, so a
// corrupt batch from ipc.NewReader can make Decode index out of range.
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
