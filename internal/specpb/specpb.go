// Package specpb moves the registry's types (store.Entity, store.View and
// their fields, types and constraints) to and from their API messages. The
// server uses it to read and answer AdminService calls; the CLI uses it to
// send parsed spec files and to print views as spec files. One converter
// means a spec means the same on both sides of the wire.
package specpb

import (
	"fmt"
	"math"
	"slices"
	"time"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

var fieldTypes = map[store.FieldType]fvv1.FieldType{
	store.Bool:        fvv1.FieldType_FIELD_TYPE_BOOL,
	store.Int64:       fvv1.FieldType_FIELD_TYPE_INT64,
	store.Float64:     fvv1.FieldType_FIELD_TYPE_FLOAT64,
	store.String:      fvv1.FieldType_FIELD_TYPE_STRING,
	store.Bytes:       fvv1.FieldType_FIELD_TYPE_BYTES,
	store.Timestamp:   fvv1.FieldType_FIELD_TYPE_TIMESTAMP,
	store.Float32List: fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST,
}

var keyTypes = map[store.KeyType]fvv1.KeyType{
	store.KeyString: fvv1.KeyType_KEY_TYPE_STRING,
	store.KeyInt64:  fvv1.KeyType_KEY_TYPE_INT64,
}

// FieldType returns the API enum of t.
func FieldType(t store.FieldType) fvv1.FieldType { return fieldTypes[t] }

// FieldTypeName is the spec spelling of an API field type
// ("list<float32>"), or the enum's name when it is unknown.
func FieldTypeName(t fvv1.FieldType) string {
	if st, ok := reverse(fieldTypes, t); ok {
		return st.String()
	}
	return t.String()
}

// EntityToProto returns e as its API message.
func EntityToProto(e store.Entity) *fvv1.Entity {
	return &fvv1.Entity{Name: e.Name, JoinKey: e.JoinKey, KeyType: keyTypes[e.KeyType], Description: e.Description}
}

// EntityFromProto returns the entity of e. An unspecified key type is a
// string key; an unknown one is refused.
func EntityFromProto(e *fvv1.Entity) (store.Entity, error) {
	if e == nil {
		return store.Entity{}, fmt.Errorf("entity is missing from the request")
	}
	kt := store.KeyString
	if e.KeyType != fvv1.KeyType_KEY_TYPE_UNSPECIFIED {
		var ok bool
		if kt, ok = reverse(keyTypes, e.KeyType); !ok {
			return store.Entity{}, fmt.Errorf("entity %q: unknown key type %d: use KEY_TYPE_STRING or KEY_TYPE_INT64", e.Name, e.KeyType)
		}
	}
	return store.Entity{Name: e.Name, JoinKey: e.JoinKey, KeyType: kt, Description: e.Description}, nil
}

// ViewToProto returns v as its API message.
func ViewToProto(v store.View) *fvv1.FeatureView {
	out := &fvv1.FeatureView{
		Name: v.Name, Entity: v.Entity, TtlSeconds: int64(v.TTL / time.Second),
		Description: v.Description, SchemaVersion: v.SchemaVersion,
	}
	for _, f := range v.Fields {
		out.Fields = append(out.Fields, &fvv1.Field{
			Name: f.Name, Type: fieldTypes[f.Type], Tags: f.Tags, Bounds: f.Bounds, Buckets: f.Buckets,
			AllowNan: f.AllowNaN, Constraints: constraintsToProto(f.Constraints), Description: f.Description,
		})
	}
	return out
}

// ViewFromProto returns the view of v, refusing what no view can hold (a
// missing field entry, an unknown type, a TTL out of range). The schema
// version is copied for printing; applying a view ignores it.
func ViewFromProto(v *fvv1.FeatureView) (store.View, error) {
	if v == nil {
		return store.View{}, fmt.Errorf("view is missing from the request")
	}
	if v.TtlSeconds < 0 || v.TtlSeconds > math.MaxInt64/int64(time.Second) {
		return store.View{}, fmt.Errorf("view %q: ttl_seconds %d is out of range: use 0 (no expiry) or a positive number of seconds", v.Name, v.TtlSeconds)
	}
	out := store.View{Name: v.Name, Entity: v.Entity, TTL: time.Duration(v.TtlSeconds) * time.Second,
		Description: v.Description, SchemaVersion: v.SchemaVersion}
	for _, f := range v.Fields {
		if f == nil {
			return store.View{}, fmt.Errorf("view %q: empty field entry", v.Name)
		}
		ft, ok := reverse(fieldTypes, f.Type)
		if !ok {
			return store.View{}, fmt.Errorf("view %q field %q: unknown or missing type; use one of bool, int64, float64, string, bytes, timestamp, list<float32>", v.Name, f.Name)
		}
		out.Fields = append(out.Fields, store.Field{
			Name: f.Name, Type: ft, Tags: f.Tags, Bounds: f.Bounds, Buckets: f.Buckets, AllowNaN: f.AllowNan,
			Constraints: constraintsFromProto(f.Constraints), Description: f.Description,
		})
	}
	return out, nil
}

// constraintsToProto returns c as its API message, or nil when c declares
// nothing, so that a field without constraints looks as it did before
// they existed.
func constraintsToProto(c store.Constraints) *fvv1.FieldConstraints {
	if c.IsZero() {
		return nil
	}
	return &fvv1.FieldConstraints{
		Required: c.Required, Min: c.Min, Max: c.Max,
		AllowedStrings: slices.Clone(c.AllowedStrings), AllowedInts: slices.Clone(c.AllowedInts),
		MaxLength: uint32(c.MaxLength), // #nosec G115 -- validated: 0 < MaxLength <= store.MaxValueBytes
	}
}

// constraintsFromProto returns the constraints of m (nil: none). The store
// checks them when the view is applied.
func constraintsFromProto(m *fvv1.FieldConstraints) store.Constraints {
	if m == nil {
		return store.Constraints{}
	}
	return store.Constraints{
		Required: m.GetRequired(), Min: m.Min, Max: m.Max,
		AllowedStrings: m.GetAllowedStrings(), AllowedInts: m.GetAllowedInts(),
		MaxLength: int(m.GetMaxLength()),
	}
}

func reverse[K, V comparable](m map[K]V, v V) (K, bool) {
	for k, x := range m {
		if x == v {
			return k, true
		}
	}
	var zero K
	return zero, false
}
