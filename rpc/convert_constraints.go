package rpc

import (
	"slices"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

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
		MaxLength: uint32(c.MaxLength),
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
