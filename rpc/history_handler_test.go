package rpc

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/store"
)

// entityTable is a reader of entity rows: customer_id (null where the key
// is ""), event_timestamp and a label column.
func entityTable(t *testing.T, mem memory.Allocator, keys []string, at []time.Time) array.RecordReader {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i, k := range keys {
		if k == "" {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(k)
		}
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at[i].UnixMicro()))
		b.Field(2).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	r, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGetHistoricalFeaturesJoinsViewsPointInTime(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, denyFields("email"))
	h := func(hh, mm int) time.Time { return time.Date(2026, 3, 1, hh, mm, 0, 0, time.UTC) }
	if _, err := env.store.Write(t.Context(), "profile", []store.Row{
		{EntityKey: "c-1", EventTime: h(8, 0), Values: map[string]any{"age": int64(30), "email": "x@example.com"}},
		{EntityKey: "c-1", EventTime: h(12, 0), Values: map[string]any{"age": int64(31)}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.store.Write(t.Context(), "txn", []store.Row{
		{EntityKey: "c-1", EventTime: h(10, 0), Values: map[string]any{"amount": 5.0}},
		{EntityKey: "c-2", EventTime: h(9, 0), Values: map[string]any{"amount": 7.0}},
	}); err != nil {
		t.Fatal(err)
	}
	entities := entityTable(t, env.mem, []string{"c-1", "c-1", "c-2", "", "c-9", "c-2"}, []time.Time{h(10, 30), h(12, 0), h(9, 59), h(10, 0), h(10, 0), h(10, 0)})
	defer entities.Release()
	r, err := env.client.GetHistoricalFeatures(t.Context(), entities, client.Historical{
		Features: []string{"profile:age", "profile:email", "txn:amount"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var cols []string
	for _, f := range r.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	if want := []string{"customer_id", "event_timestamp", "label", "age", "amount"}; !reflect.DeepEqual(cols, want) {
		t.Errorf("columns %v, want %v", cols, want)
	}
	if !reflect.DeepEqual(r.Denied(), []string{"profile:email"}) {
		t.Errorf("denied %v, want [profile:email]", r.Denied())
	}
	type row struct {
		label  int64
		age    any
		amount any
	}
	var got []row
	for _, m := range tableRows(t, r) {
		got = append(got, row{m["label"].(int64), m["age"], m["amount"]})
	}
	want := []row{
		{0, int64(30), 5.0}, // c-1 at 10:30: the 08:00 profile, the 10:00 txn
		{1, int64(31), nil}, // c-1 at 12:00: the 12:00 profile counts; the txn is past its 1h TTL
		{2, nil, 7.0},       // c-2 has no profile
		{3, nil, nil},       // null key: nothing looked up
		{4, nil, nil},       // unknown entity
		{5, nil, 7.0},       // c-2 at 10:00: the 09:00 txn is exactly at its 1h TTL
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("joined rows\n%v\nwant\n%v", got, want)
	}
}

func TestGetHistoricalFeaturesRefusesBadRequests(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, nil)
	at := []time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name string
		h    client.Historical
		code connect.Code
		msg  string
	}{
		{"bad reference", client.Historical{Features: []string{"age"}}, connect.CodeInvalidArgument, "view:field"},
		{"unknown view", client.Historical{Features: []string{"nope:age"}}, connect.CodeNotFound, `view "nope"`},
		{"unknown field", client.Historical{Features: []string{"profile:height"}}, connect.CodeNotFound, `no field "height"`},
		{"name clash", client.Historical{Features: []string{"profile:age", "txn:age"}}, connect.CodeInvalidArgument, "full_feature_names"},
		{"clash with an input column", client.Historical{Features: []string{"profile:age"}, TimestampColumn: "when"}, connect.CodeInvalidArgument, `no "when" column`},
	}
	for _, tc := range tests {
		entities := entityTable(t, env.mem, []string{"c-1"}, at)
		_, err := env.client.GetHistoricalFeatures(t.Context(), entities, tc.h)
		entities.Release()
		if connect.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want %v saying %q", tc.name, err, tc.code, tc.msg)
		}
	}
	entities := entityTable(t, env.mem, []string{"c-1"}, at)
	defer entities.Release()
	r, err := env.client.GetHistoricalFeatures(t.Context(), entities, client.Historical{Features: []string{"profile:age", "txn:age"}, FullFeatureNames: true})
	if err != nil {
		t.Fatalf("with full feature names: %v", err)
	}
	defer r.Release()
	if got := r.Schema().Field(3).Name + "," + r.Schema().Field(4).Name; got != "profile__age,txn__age" {
		t.Errorf("full feature names %s, want profile__age,txn__age", got)
	}
}
