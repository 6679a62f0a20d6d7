package arrowio_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/store"
)

const testSpec = `
entities:
  - {name: customer, join_key: customer_id, type: string}
  - {name: instrument, join_key: instrument_id, type: int64}
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: active,    type: bool}
      - {name: age,       type: int64}
      - {name: income,    type: float64, tags: [pii, sensitive]}
      - {name: email,     type: string,  tags: [pii]}
      - {name: avatar,    type: bytes}
      - {name: signup,    type: timestamp}
      - {name: embedding, type: "list<float32>"}
  - name: quotes
    entity: instrument
    fields: [{name: bid, type: float64}]
`

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.DefaultOptions(t.TempDir()).WithLogger(quietLog).WithSyncWrites(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	spec, err := store.ParseSpec([]byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySpec(spec); err != nil {
		t.Fatal(err)
	}
	return s
}

// viewOf returns a view and its entity.
func viewOf(t testing.TB, s *store.Store, name string) (store.View, store.Entity) {
	t.Helper()
	v, err := s.View(name)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Entity(v.Entity)
	if err != nil {
		t.Fatal(err)
	}
	return v, e
}

// sampleRows are profile rows with every type, NULLs and empty values.
func sampleRows(n int) []store.Row {
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]store.Row, n)
	for i := range rows {
		vals := map[string]any{
			"active":    i%2 == 0,
			"age":       int64(20 + i),
			"income":    1000.25 * float64(i),
			"email":     fmt.Sprintf("u%d@example.com", i),
			"avatar":    []byte{byte(i), 0, 255},
			"signup":    time.Date(2020, 1, 2, 3, 4, 5, i, time.UTC),
			"embedding": []float32{float32(i), -0.5},
		}
		switch i % 4 {
		case 1:
			delete(vals, "income")
			delete(vals, "embedding")
		case 2:
			vals["email"] = ""
			vals["avatar"] = []byte{}
			vals["embedding"] = []float32{}
		}
		rows[i] = store.Row{EntityKey: fmt.Sprintf("c-%03d", i), EventTime: at.Add(time.Duration(i) * time.Minute), Values: vals}
	}
	return rows
}

// normalize sorts rows by key and time and drops NULL values, so that
// sets of rows compare with reflect.DeepEqual.
func normalize(rows []store.Row) []store.Row {
	out := make([]store.Row, len(rows))
	for i, r := range rows {
		vals := map[string]any{}
		for k, v := range r.Values {
			if v != nil {
				if l, ok := v.([]float32); ok && l == nil {
					v = []float32{}
				}
				vals[k] = v
			}
		}
		out[i] = store.Row{EntityKey: r.EntityKey, EventTime: r.EventTime.UTC(), Values: vals}
	}
	slices.SortFunc(out, func(a, b store.Row) int {
		return cmp.Or(strings.Compare(a.EntityKey, b.EntityKey), a.EventTime.Compare(b.EventTime))
	})
	return out
}

// scanRecords reads the whole view through an Encoder, as ReadBatches
// does, returning the record batches (release them).
func scanRecords(t testing.TB, s *store.Store, mem memory.Allocator, view string, o store.ScanOptions) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	sc, err := s.Scan(context.Background(), view, o)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	enc, err := arrowio.NewEncoder(mem, sc.View(), sc.Entity(), sc.Fields())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Release()
	var recs []arrow.RecordBatch
	for sc.Next() {
		rec, err := enc.Encode(sc.Batch())
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return enc.Schema(), recs
}

// decodeAll decodes record batches of view with a Decoder and fails on any
// refusal.
func decodeAll(t testing.TB, v store.View, e store.Entity, schema *arrow.Schema, recs []arrow.RecordBatch) []store.Row {
	t.Helper()
	d, err := arrowio.NewDecoder(schema, v, e)
	if err != nil {
		t.Fatal(err)
	}
	var rows []store.Row
	for _, rec := range recs {
		var refused []store.Refusal
		rows, _, refused = d.Decode(rec, 0, rows)
		if len(refused) > 0 {
			t.Fatalf("refusals decoding: %+v", refused)
		}
	}
	return rows
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// checked returns a checked allocator whose leaks fail the test at cleanup.
func checked(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}
