package arrowio_test

import (
	"fmt"
	"math"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/store"
)

// The fuzz targets of this package feed arbitrary bytes to the readers a
// client or an operator reaches (an IPC stream, an Arrow or Parquet file,
// a CSV file) and check three things of every input: no panic, memory
// bounded by the input's size (allocBound), and, when the input reads,
// rows that keep the Decoder's contract (checkDecoded).

// specView returns a view of testSpec and its entity without opening a
// store: fuzz targets run the decoders, not Badger.
func specView(tb testing.TB, name string) (store.View, store.Entity) {
	tb.Helper()
	spec, err := store.ParseSpec([]byte(testSpec))
	if err != nil {
		tb.Fatal(err)
	}
	for _, v := range spec.Views {
		if v.Name != name {
			continue
		}
		for _, e := range spec.Entities {
			if e.Name == v.Entity {
				return v, e
			}
		}
	}
	tb.Fatalf("no view %q in testSpec", name)
	return store.View{}, store.Entity{}
}

// heapAllocated returns the bytes this process has allocated on the heap
// so far. A fuzz worker runs one input at a time, so the difference
// around one input is (nearly all) what that input cost.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// allocBound is the most reading an input of n bytes may allocate: the
// reader's own allowance (its memory limit) plus a multiple of the input
// (rows, maps and refusals cost more than the bytes they came from). A
// header claiming a large length it does not send must not get past it.
func allocBound(allowance uint64, n int) uint64 { return allowance + 32<<20 + 1024*uint64(n) }

// checkAllocs fails t when reading an input of n bytes allocated more than
// allocBound(allowance, n) since before.
func checkAllocs(t *testing.T, before, allowance uint64, n int) {
	t.Helper()
	if got, limit := heapAllocated()-before, allocBound(allowance, n); got > limit {
		t.Errorf("reading %d bytes allocated %d bytes, want at most %d", n, got, limit)
	}
}

// checkDecoded checks the contract of Decoder.Decode for one batch of n
// rows decoded from position first: every row is either kept or refused,
// once, in order; kept rows carry only the decoder's fields, each value of
// its field's Go type; refusals name a column and a reason.
func checkDecoded(t *testing.T, v store.View, d *arrowio.Decoder, n int, first int64, rows []store.Row, kept []int, refused []store.Refusal) {
	t.Helper()
	if got := len(rows) + len(refused); got != n || len(kept) != len(rows) {
		t.Fatalf("%d rows + %d refused (%d kept), want %d in all", len(rows), len(refused), len(kept), n)
	}
	seen := make([]bool, n)
	for i, k := range kept {
		if k < 0 || k >= n || (i > 0 && k <= kept[i-1]) {
			t.Fatalf("kept = %v: not increasing positions in [0, %d)", kept, n)
		}
		seen[k] = true
	}
	for i, r := range refused {
		at := r.Row - first
		if at < 0 || at >= int64(n) || seen[at] || (i > 0 && r.Row <= refused[i-1].Row) {
			t.Fatalf("refusal %d at row %d: outside the batch, out of order, or of a kept row", i, r.Row)
		}
		seen[at] = true
		if r.Column == "" || r.Reason == "" {
			t.Errorf("refusal %+v lacks a column or reason", r)
		}
	}
	fields := d.Fields()
	for _, r := range rows {
		if r.EventTime.Location() != time.UTC {
			t.Errorf("event time in %v, want UTC", r.EventTime.Location())
		}
		for name, x := range r.Values {
			f, _, ok := v.Field(name)
			if !ok || !slices.Contains(fields, name) {
				t.Fatalf("row has value for %q, not a field the decoder reads (%v)", name, fields)
			}
			if want := goTypeOf(f.Type); fmt.Sprintf("%T", x) != want {
				t.Errorf("field %q (%s) decoded as %T, want %s", name, f.Type, x, want)
			}
		}
	}
}

// goTypeOf is the Go type a Decoder gives values of field type ft.
func goTypeOf(ft store.FieldType) string {
	switch ft {
	case store.Bool:
		return "bool"
	case store.Int64:
		return "int64"
	case store.Float64:
		return "float64"
	case store.String:
		return "string"
	case store.Bytes:
		return "[]uint8"
	case store.Timestamp:
		return "time.Time"
	case store.Float32List:
		return "[]float32"
	}
	return "unknown"
}

// checkErrorPrefix fails t unless err reads as one of this package's
// errors (or Arrow's, which it wraps), so a caller can tell what failed.
func checkErrorPrefix(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, "arrowio: ") {
		t.Errorf("error %q does not start with \"arrowio: \"", msg)
	}
}

// profileRow is one row of view profile as the fuzz targets generate it.
type profileRow struct {
	key       string
	at        int64 // event time, unix ns
	active    bool
	age       int64
	income    float64
	email     string
	avatar    []byte
	signup    int64 // unix ns
	embedding []float32
}

// profileBatch builds a record batch of view profile's full table schema
// holding rows, with NULL income on every row whose index is odd.
func profileBatch(tb testing.TB, mem memory.Allocator, rows []profileRow) arrow.RecordBatch {
	tb.Helper()
	v, e := specView(tb, "profile")
	schema, err := arrowio.ViewSchema(v, e)
	if err != nil {
		tb.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.key)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.at))
		b.Field(2).(*array.BooleanBuilder).Append(r.active)
		b.Field(3).(*array.Int64Builder).Append(r.age)
		if i%2 == 1 {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.Float64Builder).Append(r.income)
		}
		b.Field(5).(*array.StringBuilder).Append(r.email)
		b.Field(6).(*array.BinaryBuilder).Append(r.avatar)
		b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(r.signup))
		lb := b.Field(8).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Float32Builder).AppendValues(r.embedding, nil)
	}
	return b.NewRecordBatch()
}

// sampleProfileRows are a few rows with every type, empty values and
// extremes.
func sampleProfileRows() []profileRow {
	return []profileRow{
		{"c-1", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).UnixNano(), true, 41, 52000.5, "a@example.com", []byte{0, 1, 255}, 1, []float32{0.25, -1.5}},
		{"c-2", 0, false, math.MinInt64, 0, "", []byte{}, math.MaxInt64, []float32{}},
		{"c-3", -1, true, math.MaxInt64, math.Inf(-1), "é\x00", nil, math.MinInt64, []float32{float32(math.NaN())}},
	}
}

// rowOf is the store.Row a Decoder makes of r at index i of profileBatch.
func rowOf(r profileRow, i int) store.Row {
	vals := map[string]any{
		"active": r.active, "age": r.age, "email": r.email, "avatar": append([]byte{}, r.avatar...),
		"signup": time.Unix(0, r.signup).UTC(), "embedding": append([]float32{}, r.embedding...),
	}
	if i%2 == 0 {
		vals["income"] = r.income
	}
	return store.Row{EntityKey: r.key, EventTime: time.Unix(0, r.at).UTC(), Values: vals}
}
