package rpc

import (
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// valueSlabs hands out the oneof wrappers of fixed-size values
// (Value_Float64Value and the like) from slabs, so that an online answer of
// n values costs a few allocations instead of one per value.
type valueSlabs struct {
	size int // values in the answer: the size of a slab
	f64  []fvv1.Value_Float64Value
	i64  []fvv1.Value_Int64Value
	b    []fvv1.Value_BoolValue
}

// set fills dst with x as valueToProto does.
func (s *valueSlabs) set(dst *fvv1.Value, x any) {
	switch x := x.(type) {
	case float64:
		s.f64 = grow(s.f64, s.size)
		s.f64 = append(s.f64, fvv1.Value_Float64Value{Float64Value: x})
		dst.Kind = &s.f64[len(s.f64)-1]
	case int64:
		s.i64 = grow(s.i64, s.size)
		s.i64 = append(s.i64, fvv1.Value_Int64Value{Int64Value: x})
		dst.Kind = &s.i64[len(s.i64)-1]
	case bool:
		s.b = grow(s.b, s.size)
		s.b = append(s.b, fvv1.Value_BoolValue{BoolValue: x})
		dst.Kind = &s.b[len(s.b)-1]
	default:
		valueToProto(dst, x)
	}
}

// grow returns slab, or a new empty slab of capacity n when slab is full.
// Elements already handed out stay where they are: a full slab is never
// appended to, so it is never moved.
func grow[T any](slab []T, n int) []T {
	if len(slab) < cap(slab) {
		return slab
	}
	return make([]T, 0, max(n, 1))
}
