package main

import (
	"fmt"
	"time"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// The CLI reads and writes spec files with the store's own parser and
// printer (store.ParseSpec, store.MarshalSpec), so a spec means the same on
// the command line as in the server; these functions move the parsed types
// to and from their API messages.

var fieldTypeToProto = map[store.FieldType]fvv1.FieldType{
	store.Bool:        fvv1.FieldType_FIELD_TYPE_BOOL,
	store.Int64:       fvv1.FieldType_FIELD_TYPE_INT64,
	store.Float64:     fvv1.FieldType_FIELD_TYPE_FLOAT64,
	store.String:      fvv1.FieldType_FIELD_TYPE_STRING,
	store.Bytes:       fvv1.FieldType_FIELD_TYPE_BYTES,
	store.Timestamp:   fvv1.FieldType_FIELD_TYPE_TIMESTAMP,
	store.Float32List: fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST,
}

var keyTypeToProto = map[store.KeyType]fvv1.KeyType{
	store.KeyString: fvv1.KeyType_KEY_TYPE_STRING,
	store.KeyInt64:  fvv1.KeyType_KEY_TYPE_INT64,
}

func entityToProto(e store.Entity) *fvv1.Entity {
	return &fvv1.Entity{Name: e.Name, JoinKey: e.JoinKey, KeyType: keyTypeToProto[e.KeyType], Description: e.Description}
}

func viewToProto(v store.View) *fvv1.FeatureView {
	out := &fvv1.FeatureView{
		Name:        v.Name,
		Entity:      v.Entity,
		TtlSeconds:  int64(v.TTL / time.Second),
		Description: v.Description,
	}
	for _, f := range v.Fields {
		out.Fields = append(out.Fields, &fvv1.Field{
			Name: f.Name, Type: fieldTypeToProto[f.Type], Tags: f.Tags, Bounds: f.Bounds, Buckets: f.Buckets,
			AllowNan: f.AllowNaN, Constraints: constraintsToProto(f.Constraints), Description: f.Description,
		})
	}
	return out
}

func entityFromProto(e *fvv1.Entity) (store.Entity, error) {
	kt, ok := reverse(keyTypeToProto, e.GetKeyType())
	if !ok {
		return store.Entity{}, fmt.Errorf("entity %q has key type %s, which this client does not know; upgrade it", e.GetName(), e.GetKeyType())
	}
	return store.Entity{Name: e.GetName(), JoinKey: e.GetJoinKey(), KeyType: kt, Description: e.GetDescription()}, nil
}

func viewFromProto(v *fvv1.FeatureView) (store.View, error) {
	out := store.View{
		Name:          v.GetName(),
		Entity:        v.GetEntity(),
		TTL:           time.Duration(v.GetTtlSeconds()) * time.Second,
		Description:   v.GetDescription(),
		SchemaVersion: v.GetSchemaVersion(),
	}
	for _, f := range v.GetFields() {
		ft, ok := reverse(fieldTypeToProto, f.GetType())
		if !ok {
			return store.View{}, fmt.Errorf("view %q field %q has type %s, which this client does not know; upgrade it", v.GetName(), f.GetName(), f.GetType())
		}
		out.Fields = append(out.Fields, store.Field{
			Name: f.GetName(), Type: ft, Tags: f.GetTags(), Bounds: f.GetBounds(), Buckets: f.GetBuckets(),
			AllowNaN: f.GetAllowNan(), Constraints: constraintsFromProto(f.GetConstraints()), Description: f.GetDescription(),
		})
	}
	return out, nil
}

// constraintsToProto returns c as its API message, nil when c declares
// nothing.
func constraintsToProto(c store.Constraints) *fvv1.FieldConstraints {
	if c.IsZero() {
		return nil
	}
	return &fvv1.FieldConstraints{Required: c.Required, Min: c.Min, Max: c.Max,
		AllowedStrings: c.AllowedStrings, AllowedInts: c.AllowedInts, MaxLength: uint32(c.MaxLength)}
}

// constraintsFromProto returns the constraints of m (nil: none), for
// printing a view as a spec.
func constraintsFromProto(m *fvv1.FieldConstraints) store.Constraints {
	if m == nil {
		return store.Constraints{}
	}
	return store.Constraints{Required: m.GetRequired(), Min: m.Min, Max: m.Max,
		AllowedStrings: m.GetAllowedStrings(), AllowedInts: m.GetAllowedInts(), MaxLength: int(m.GetMaxLength())}
}

// fieldTypeName is the spec spelling of a field type ("list<float32>").
func fieldTypeName(t fvv1.FieldType) string {
	if st, ok := reverse(fieldTypeToProto, t); ok {
		return st.String()
	}
	return t.String()
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
