package rpc

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// valueFromProto returns the Go value of v for the store (nil is NULL).
func valueFromProto(v *fvv1.Value) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k := v.Kind.(type) {
	case nil:
		return nil, nil
	case *fvv1.Value_BoolValue:
		return k.BoolValue, nil
	case *fvv1.Value_Int64Value:
		return k.Int64Value, nil
	case *fvv1.Value_Float64Value:
		return k.Float64Value, nil
	case *fvv1.Value_StringValue:
		return k.StringValue, nil
	case *fvv1.Value_BytesValue:
		return k.BytesValue, nil
	case *fvv1.Value_TimestampValue:
		if err := k.TimestampValue.CheckValid(); err != nil {
			return nil, fmt.Errorf("invalid timestamp: %w", err)
		}
		return k.TimestampValue.AsTime(), nil
	case *fvv1.Value_FloatListValue:
		if k.FloatListValue == nil {
			return []float32{}, nil
		}
		return k.FloatListValue.Values, nil
	}
	return nil, fmt.Errorf("unsupported value kind %T", v.Kind)
}

// valueToProto fills dst with the Go value x (nil leaves dst NULL).
func valueToProto(dst *fvv1.Value, x any) {
	switch x := x.(type) {
	case bool:
		dst.Kind = &fvv1.Value_BoolValue{BoolValue: x}
	case int64:
		dst.Kind = &fvv1.Value_Int64Value{Int64Value: x}
	case float64:
		dst.Kind = &fvv1.Value_Float64Value{Float64Value: x}
	case string:
		dst.Kind = &fvv1.Value_StringValue{StringValue: x}
	case []byte:
		dst.Kind = &fvv1.Value_BytesValue{BytesValue: x}
	case time.Time:
		dst.Kind = &fvv1.Value_TimestampValue{TimestampValue: timestamppb.New(x)}
	case []float32:
		dst.Kind = &fvv1.Value_FloatListValue{FloatListValue: &fvv1.FloatList{Values: x}}
	}
}

var statusToProto = [...]fvv1.FieldStatus{
	store.Present:  fvv1.FieldStatus_FIELD_STATUS_PRESENT,
	store.Null:     fvv1.FieldStatus_FIELD_STATUS_NULL,
	store.NotFound: fvv1.FieldStatus_FIELD_STATUS_NOT_FOUND,
	store.Expired:  fvv1.FieldStatus_FIELD_STATUS_EXPIRED,
	store.Denied:   fvv1.FieldStatus_FIELD_STATUS_DENIED,
}

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

func lookupReverse[K, V comparable](m map[K]V, v V) (K, bool) {
	for k, x := range m {
		if x == v {
			return k, true
		}
	}
	var zero K
	return zero, false
}

func entityToProto(e store.Entity) *fvv1.Entity {
	return &fvv1.Entity{Name: e.Name, JoinKey: e.JoinKey, KeyType: keyTypes[e.KeyType], Description: e.Description}
}

func entityFromProto(e *fvv1.Entity) (store.Entity, error) {
	if e == nil {
		return store.Entity{}, fmt.Errorf("entity is missing from the request")
	}
	kt := store.KeyString
	if e.KeyType != fvv1.KeyType_KEY_TYPE_UNSPECIFIED {
		var ok bool
		if kt, ok = lookupReverse(keyTypes, e.KeyType); !ok {
			return store.Entity{}, fmt.Errorf("entity %q: unknown key type %d: use KEY_TYPE_STRING or KEY_TYPE_INT64", e.Name, e.KeyType)
		}
	}
	return store.Entity{Name: e.Name, JoinKey: e.JoinKey, KeyType: kt, Description: e.Description}, nil
}

func viewToProto(v store.View) *fvv1.FeatureView {
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

func viewFromProto(v *fvv1.FeatureView) (store.View, error) {
	if v == nil {
		return store.View{}, fmt.Errorf("view is missing from the request")
	}
	if v.TtlSeconds < 0 || v.TtlSeconds > math.MaxInt64/int64(time.Second) {
		return store.View{}, fmt.Errorf("view %q: ttl_seconds %d is out of range: use 0 (no expiry) or a positive number of seconds", v.Name, v.TtlSeconds)
	}
	out := store.View{Name: v.Name, Entity: v.Entity, TTL: time.Duration(v.TtlSeconds) * time.Second, Description: v.Description}
	for _, f := range v.Fields {
		if f == nil {
			return store.View{}, fmt.Errorf("view %q: empty field entry", v.Name)
		}
		ft, ok := lookupReverse(fieldTypes, f.Type)
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
