package rpc_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// Markers that no error may echo: an entity key and feature values.
const (
	constrainedKey  = "constrained-key-7f3a"
	constrainedTier = "tier-marker-c41d"
	constrainedAge  = 4242
)

// constrainedView is a view with constraints, as the API takes it.
func constrainedView() *fvv1.FeatureView {
	return &fvv1.FeatureView{Name: "checked", Entity: "customer", Fields: []*fvv1.Field{
		{Name: "age", Type: fvv1.FieldType_FIELD_TYPE_INT64, Bounds: []float64{18, 100},
			Constraints: &fvv1.FieldConstraints{Required: true, Min: proto.Float64(0), Max: proto.Float64(150)}},
		{Name: "tier", Type: fvv1.FieldType_FIELD_TYPE_STRING,
			Constraints: &fvv1.FieldConstraints{AllowedStrings: []string{"gold", "silver"}, MaxLength: 8}},
		{Name: "note", Type: fvv1.FieldType_FIELD_TYPE_STRING},
	}}
}

func int64Value(x int64) *fvv1.Value { return &fvv1.Value{Kind: &fvv1.Value_Int64Value{Int64Value: x}} }
func stringValue(s string) *fvv1.Value {
	return &fvv1.Value{Kind: &fvv1.Value_StringValue{StringValue: s}}
}

// TestConstraintsOverTheAPI checks constraints end to end on a real
// server: they round-trip through ApplyFeatureView and GetFeatureView, a
// bad declaration is refused, and a WriteFeatures or IngestArrow row that
// breaks one is refused with InvalidArgument naming the row, the field and
// the rule, never the value or the key, with nothing written.
func TestConstraintsOverTheAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx := t.Context()
	if _, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: constrainedView()})); err != nil {
		t.Fatalf("ApplyFeatureView: %v", err)
	}
	got, err := s.admin.GetFeatureView(ctx, connect.NewRequest(&fvv1.GetFeatureViewRequest{Name: "checked"}))
	if err != nil {
		t.Fatalf("GetFeatureView: %v", err)
	}
	if diff := cmp.Diff(constrainedView().Fields, got.Msg.GetView().GetFields(), protocmp.Transform()); diff != "" {
		t.Errorf("GetFeatureView fields differ from what was applied (-want +got):\n%s", diff)
	}

	t.Run("bad declaration", func(t *testing.T) {
		bad := constrainedView()
		bad.Name = "checked_bad"
		bad.Fields[0].Constraints.Min = proto.Float64(20) // above the lower bound 18
		_, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: bad}))
		want := `view "checked_bad" field "age": bounds [18, 100] reach below min 20`
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), want) {
			t.Errorf("ApplyFeatureView error = %v, want InvalidArgument containing %q", err, want)
		}
	})

	tests := []struct {
		name string
		row  *fvv1.Row
		want string
	}{
		{"above max", &fvv1.Row{EntityKey: constrainedKey, Values: map[string]*fvv1.Value{"age": int64Value(constrainedAge)}},
			`row 1: view "checked" field "age" is above max 150`},
		{"required NULL", &fvv1.Row{EntityKey: constrainedKey, Values: map[string]*fvv1.Value{"age": {}, "note": stringValue(constrainedTier)}},
			`row 1: view "checked" field "age" is required`},
		{"not allowed", &fvv1.Row{EntityKey: constrainedKey, Values: map[string]*fvv1.Value{"age": int64Value(40), "tier": stringValue(constrainedTier[:8])}},
			`row 1: view "checked" field "tier" is not one of the allowed values "gold", "silver"`},
		{"too long", &fvv1.Row{EntityKey: constrainedKey, Values: map[string]*fvv1.Value{"age": int64Value(40), "tier": stringValue(constrainedTier)}},
			`row 1: view "checked" field "tier" is longer than max_length 8 bytes`},
	}
	for _, tc := range tests {
		t.Run("write "+tc.name, func(t *testing.T) {
			good := &fvv1.Row{EntityKey: "constrained-good", Values: map[string]*fvv1.Value{"age": int64Value(40), "tier": stringValue("gold")}}
			_, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "checked", Rows: []*fvv1.Row{good, tc.row}}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WriteFeatures error = %v, want InvalidArgument containing %q", err, tc.want)
			}
			for _, secret := range []string{constrainedKey, constrainedTier[:8], "4242"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("WriteFeatures error %q contains %q", err, secret)
				}
			}
			checkNothingWritten(t, s, constrainedKey, "constrained-good")
		})
	}

	t.Run("ingest", func(t *testing.T) {
		// Rows 0 and 2 are good, row 1 is above max, row 3 has a tier not
		// allowed: the batch is refused as a whole.
		table := constrainedTable(t, []int64{40, constrainedAge, 41, 42}, []string{"gold", "silver", "gold", constrainedTier[:8]})
		st := s.feature.IngestArrow(ctx)
		if err := st.Send(&fvv1.IngestArrowRequest{View: "checked", ArrowIpc: table}); err != nil {
			t.Fatalf("send: %v", err)
		}
		_, err := st.CloseAndReceive()
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("IngestArrow error = %v, want InvalidArgument", err)
		}
		for _, want := range []string{
			"2 of 4 rows refused; nothing was written",
			`row 1 column age: view "checked" field "age" is above max 150`,
			`row 3 column tier: view "checked" field "tier" is not one of the allowed values`,
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("IngestArrow error %q\ndoes not contain %q", err, want)
			}
		}
		for _, secret := range []string{constrainedKey, constrainedTier[:8], "4242"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("IngestArrow error %q contains %q", err, secret)
			}
		}
		checkNothingWritten(t, s, constrainedKey+"-0", constrainedKey+"-1", constrainedKey+"-2", constrainedKey+"-3")
	})

	t.Run("good rows are written", func(t *testing.T) {
		good := &fvv1.Row{EntityKey: "constrained-good", Values: map[string]*fvv1.Value{"age": int64Value(150), "tier": stringValue("silver")}}
		if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "checked", Rows: []*fvv1.Row{good}})); err != nil {
			t.Fatalf("WriteFeatures of a row at the boundary: %v", err)
		}
		res, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "checked", EntityKeys: []string{"constrained-good"}, Features: []string{"age"}}))
		if err != nil {
			t.Fatalf("GetOnlineFeatures: %v", err)
		}
		if got := res.Msg.GetRows()[0].GetValues()[0].GetInt64Value(); got != 150 {
			t.Errorf("age read back = %d, want 150", got)
		}
	})
}

// checkNothingWritten fails the test unless no key has a row in checked.
func checkNothingWritten(t *testing.T, s *server, keys ...string) {
	t.Helper()
	res, err := s.feature.GetOnlineFeatures(t.Context(), connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "checked", EntityKeys: keys, Features: []string{"age"}}))
	if err != nil {
		t.Fatalf("GetOnlineFeatures: %v", err)
	}
	for _, r := range res.Msg.GetRows() {
		if st := r.GetStatuses()[0]; st != fvv1.FieldStatus_FIELD_STATUS_NOT_FOUND {
			t.Errorf("after a refused request, an entity has status %v, want NOT_FOUND", st)
		}
	}
}

// constrainedTable is an IngestArrow payload for checked: one row per age,
// keyed constrainedKey-i.
func constrainedTable(t *testing.T, ages []int64, tiers []string) []byte {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "age", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tier", Type: arrow.BinaryTypes.String},
	}, nil)
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return ipcStream(t, schema, func(b *array.RecordBuilder) {
		for i, age := range ages {
			b.Field(0).(*array.StringBuilder).Append(constrainedKey + "-" + strconv.Itoa(i))
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
			b.Field(2).(*array.Int64Builder).Append(age)
			b.Field(3).(*array.StringBuilder).Append(tiers[i])
		}
	})
}
