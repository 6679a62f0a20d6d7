package rpc

import (
	"fmt"
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

func lookupReverse[K, V comparable](m map[K]V, v V) (K, bool) {
	for k, x := range m {
		if x == v {
			return k, true
		}
	}
	var zero K
	return zero, false
}
