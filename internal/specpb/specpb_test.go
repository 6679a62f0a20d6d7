package specpb_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/featurevault/featurevault/internal/specpb"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// TestSpecRoundTripsThroughTheAPI parses a spec with every field type and
// every kind of constraint, moves it to its API messages and back, and
// gets the same entities and views.
func TestSpecRoundTripsThroughTheAPI(t *testing.T) {
	t.Parallel()
	spec, err := store.ParseSpec([]byte(`
entities:
  - {name: customer, join_key: customer_id, type: int64, description: who buys}
feature_views:
  - name: profile
    entity: customer
    ttl: 720h
    fields:
      - {name: active, type: bool}
      - {name: age, type: int64, required: true, min: 0, max: 150, allowed: [18, 21, 65]}
      - {name: income, type: float64, tags: [pii], bounds: [0, 1000], buckets: [0, 500, 1000], min: 0, max: 1e6}
      - {name: email, type: string, max_length: 320, allowed: [a, b]}
      - {name: avatar, type: bytes, max_length: 1024}
      - {name: signup, type: timestamp, description: first order}
      - {name: embedding, type: "list<float32>"}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range spec.Entities {
		got, err := specpb.EntityFromProto(specpb.EntityToProto(e))
		if err != nil || !cmp.Equal(got, e) {
			t.Errorf("entity round trip: %v\n%s", err, cmp.Diff(e, got))
		}
	}
	for _, v := range spec.Views {
		v.SchemaVersion = 3
		got, err := specpb.ViewFromProto(specpb.ViewToProto(v))
		if err != nil || !cmp.Equal(got, v) {
			t.Errorf("view round trip: %v\n%s", err, cmp.Diff(v, got))
		}
	}
}

// TestViewFromProtoRefusesWhatNoViewCanHold checks the refusals, each
// saying what to fix.
func TestViewFromProtoRefusesWhatNoViewCanHold(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		v    *fvv1.FeatureView
		want string
	}{
		{"missing", nil, "view is missing"},
		{"negative ttl", &fvv1.FeatureView{Name: "v", TtlSeconds: -1}, "ttl_seconds -1 is out of range"},
		{"huge ttl", &fvv1.FeatureView{Name: "v", TtlSeconds: int64(1 << 62)}, "is out of range"},
		{"nil field", &fvv1.FeatureView{Name: "v", Fields: []*fvv1.Field{nil}}, "empty field entry"},
		{"unknown type", &fvv1.FeatureView{Name: "v", Fields: []*fvv1.Field{{Name: "f"}}}, `field "f": unknown or missing type`},
	} {
		if _, err := specpb.ViewFromProto(c.v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := specpb.EntityFromProto(&fvv1.Entity{Name: "e", KeyType: 9}); err == nil || !strings.Contains(err.Error(), "unknown key type 9") {
		t.Errorf("unknown key type: got %v", err)
	}
	if got, want := specpb.FieldTypeName(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), "list<float32>"; got != want {
		t.Errorf("FieldTypeName = %q, want %q", got, want)
	}
}
