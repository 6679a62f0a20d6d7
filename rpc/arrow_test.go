package rpc

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// cell returns value i of a as the Go value the store uses (nil for null).
func cell(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return slices.Clone(a.Value(i))
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit)
	case *array.List:
		start, end := a.ValueOffsets(i)
		return append([]float32{}, a.ListValues().(*array.Float32).Float32Values()[start:end]...)
	}
	return fmt.Sprintf("unsupported %T", a)
}

// tableRows drains r into rows of column name → value.
func tableRows(t *testing.T, r array.RecordReader) []map[string]any {
	t.Helper()
	var out []map[string]any
	for r.Next() {
		rec := r.RecordBatch()
		for i := range int(rec.NumRows()) {
			row := map[string]any{}
			for j, col := range rec.Columns() {
				row[rec.ColumnName(j)] = cell(col, i)
			}
			out = append(out, row)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("read: %v", err)
	}
	return out
}

// asStoreRows turns table rows of a view back into store rows (NULLs
// dropped) for comparison with what was written.
func asStoreRows(rows []map[string]any) []store.Row {
	out := make([]store.Row, len(rows))
	for i, r := range rows {
		vals := map[string]any{}
		for k, v := range r {
			if k != "customer_id" && k != arrowio.EventTimeColumn && v != nil {
				vals[k] = v
			}
		}
		out[i] = store.Row{EntityKey: r["customer_id"].(string), EventTime: r[arrowio.EventTimeColumn].(time.Time).UTC(), Values: vals}
	}
	return sortRows(out)
}

func sortRows(rows []store.Row) []store.Row {
	for i := range rows {
		rows[i].EventTime = rows[i].EventTime.UTC()
		for k, v := range rows[i].Values {
			if v == nil {
				delete(rows[i].Values, k)
			}
			if tm, ok := v.(time.Time); ok {
				rows[i].Values[k] = tm.UTC()
			}
		}
	}
	slices.SortFunc(rows, func(a, b store.Row) int {
		return cmp.Or(strings.Compare(a.EntityKey, b.EntityKey), a.EventTime.Compare(b.EventTime))
	})
	return rows
}

// profileRows are rows of every type, with NULLs and empty values.
func profileRows(n int, marker string) []store.Row {
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]store.Row, n)
	for i := range rows {
		vals := map[string]any{
			"active": i%3 == 0, "age": int64(18 + i), "income": 1000.5 * float64(i),
			"email": fmt.Sprintf("%s-%d@example.com", marker, i), "avatar": []byte{byte(i), 7},
			"signup":    time.Date(2021, 1, 1, 0, 0, 0, i*1000, time.UTC),
			"embedding": []float32{float32(i) / 4, -1},
		}
		if i%5 == 1 {
			delete(vals, "income")
			vals["embedding"] = []float32{}
		}
		rows[i] = store.Row{EntityKey: fmt.Sprintf("c-%04d", i), EventTime: at.Add(time.Duration(i) * time.Second), Values: vals}
	}
	return rows
}

func TestReadBatchesStreamsSchemaThenBatchesThenEndMarker(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, nil)
	want := profileRows(10, "m")
	if _, err := env.store.Write(t.Context(), "profile", want); err != nil {
		t.Fatal(err)
	}
	s, err := env.raw.ReadBatches(t.Context(), connect.NewRequest(&fvv1.ReadBatchesRequest{View: "profile", BatchRows: 4}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows []int64
	var stream bytes.Buffer
	for s.Receive() {
		rows = append(rows, s.Msg().Rows)
		stream.Write(s.Msg().ArrowIpc)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows, []int64{0, 4, 4, 2, 0}) {
		t.Errorf("responses carry %v rows; want the schema, batches of 4, 4, 2 and the end marker", rows)
	}
	if !bytes.HasSuffix(stream.Bytes(), arrowio.EndOfStream) {
		t.Error("the stream does not end with the end-of-stream marker")
	}
	r, err := ipc.NewReader(&stream)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if got := asStoreRows(tableRows(t, r)); !reflect.DeepEqual(got, sortRows(want)) {
		t.Errorf("read back\n%v\nwant\n%v", got, want)
	}
	if a := env.lastAccess(t); a.Rows != 10 || a.Entities != 10 || a.View != "profile" || a.Err != nil || len(a.Allowed) != 7 {
		t.Errorf("recorded access %+v; want 10 rows of 10 entities, 7 columns, no error", a)
	}
}

// TestDeniedColumnsNeverReachABatch stands in a policy that denies the pii
// columns and checks they are absent from the schema, reported as denied,
// and that not one byte of their values is in the stream.
func TestDeniedColumnsNeverReachABatch(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, denyFields("email", "income"))
	const marker = "DENIED-MARKER"
	if _, err := env.store.Write(t.Context(), "profile", profileRows(20, marker)); err != nil {
		t.Fatal(err)
	}
	s, err := env.raw.ReadBatches(t.Context(), connect.NewRequest(&fvv1.ReadBatchesRequest{View: "profile"}))
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	var denied []string
	for s.Receive() {
		stream.Write(s.Msg().ArrowIpc)
		denied = append(denied, s.Msg().DeniedFeatures...)
	}
	s.Close()
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stream.Bytes(), []byte(marker)) {
		t.Error("a denied column's value is in the stream")
	}
	if !reflect.DeepEqual(denied, []string{"income", "email"}) {
		t.Errorf("denied_features = %v, want [income email]", denied)
	}
	r, err := env.client.ReadBatches(t.Context(), "profile", client.Read{Features: []string{"email", "age"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var cols []string
	for _, f := range r.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	if !reflect.DeepEqual(cols, []string{"customer_id", "event_timestamp", "age"}) || !reflect.DeepEqual(r.Denied(), []string{"email"}) {
		t.Errorf("columns %v, denied %v; want [customer_id event_timestamp age] and [email]", cols, r.Denied())
	}
	if got := len(tableRows(t, r)); got != 20 {
		t.Errorf("%d rows, want 20", got)
	}
	if _, err := env.client.ReadBatches(t.Context(), "profile", client.Read{Features: []string{"email"}}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("reading only denied columns: %v; want PermissionDenied", err)
	}
}

func TestPolicyErrorsFailTheCall(t *testing.T) {
	t.Parallel()
	strict := func(_ context.Context, _ http.Header, view, _ string, _ []string) ([]string, []string, error) {
		return nil, nil, connect.NewError(connect.CodePermissionDenied, errors.New("strict: read denied on view "+view))
	}
	env := newArrowEnv(t, strict)
	_, err := env.client.ReadBatches(t.Context(), "profile", client.Read{})
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("ReadBatches: %v, want PermissionDenied", err)
	}
	if a := env.lastAccess(t); connect.CodeOf(a.Err) != connect.CodePermissionDenied {
		t.Errorf("the refusal was recorded as %v", a.Err)
	}
	table := entityTable(t, memory.DefaultAllocator, []string{"c-1"}, []time.Time{time.Now()})
	defer table.Release()
	if _, err := env.client.GetHistoricalFeatures(t.Context(), table, client.Historical{Features: []string{"profile:age"}}); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("GetHistoricalFeatures: %v, want PermissionDenied", err)
	}
}

func TestReadBatchesFiltersThroughTheAPI(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, nil)
	h := func(hh int) time.Time { return time.Date(2026, 1, 1, hh, 0, 0, 0, time.UTC) }
	var rows []store.Row
	for _, k := range []string{"a", "b"} {
		for hh := 1; hh <= 3; hh++ {
			rows = append(rows, store.Row{EntityKey: k, EventTime: h(hh), Values: map[string]any{"amount": float64(hh)}})
		}
	}
	if _, err := env.store.Write(t.Context(), "txn", rows); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    client.Read
		want int
	}{
		{"everything", client.Read{}, 6},
		{"range", client.Read{Start: h(2), End: h(3)}, 2},
		{"as of", client.Read{AsOf: h(2)}, 2},
		{"as of past the TTL", client.Read{AsOf: h(5)}, 0},
	}
	for _, tc := range tests {
		r, err := env.client.ReadBatches(t.Context(), "txn", tc.r)
		if err != nil {
			t.Fatal(err)
		}
		got := tableRows(t, r)
		r.Release()
		if len(got) != tc.want {
			t.Errorf("%s: %d rows, want %d", tc.name, len(got), tc.want)
		}
	}
	_, err := env.client.ReadBatches(t.Context(), "txn", client.Read{AsOf: h(1), End: h(2)})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "cannot be combined") {
		t.Errorf("as-of with end: %v, want InvalidArgument saying they cannot be combined", err)
	}
	_, err = env.client.ReadBatches(t.Context(), "nope", client.Read{})
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("unknown view: %v, want NotFound", err)
	}
}
