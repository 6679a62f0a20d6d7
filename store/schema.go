package store

import (
	"fmt"
	"time"
)

// FieldType is the declared type of a feature field. Its String form is the
// spelling used in spec files.
type FieldType int

// The field types. Append only: the numbers are stored in the registry.
const (
	Bool FieldType = iota + 1
	Int64
	Float64
	String
	Bytes
	Timestamp
	Float32List
)

var fieldTypeNames = map[FieldType]string{
	Bool: "bool", Int64: "int64", Float64: "float64", String: "string",
	Bytes: "bytes", Timestamp: "timestamp", Float32List: "list<float32>",
}

func (t FieldType) String() string {
	if s, ok := fieldTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("FieldType(%d)", int(t))
}

// ParseFieldType reads a spec spelling ("int64", "list<float32>").
func ParseFieldType(s string) (FieldType, error) {
	for t, n := range fieldTypeNames {
		if n == s {
			return t, nil
		}
	}
	return 0, errorf(KindInvalid, "unknown field type %q: use bool, int64, float64, string, bytes, timestamp or list<float32>", s)
}

// KeyType is the type of an entity's join key.
type KeyType int

// The key types.
const (
	KeyString KeyType = iota + 1
	KeyInt64
)

func (t KeyType) String() string {
	switch t {
	case KeyString:
		return "string"
	case KeyInt64:
		return "int64"
	}
	return fmt.Sprintf("KeyType(%d)", int(t))
}

// ParseKeyType reads a spec spelling ("string", "int64").
func ParseKeyType(s string) (KeyType, error) {
	switch s {
	case "string", "":
		return KeyString, nil
	case "int64":
		return KeyInt64, nil
	}
	return 0, errorf(KindInvalid, "unknown join key type %q: use string or int64", s)
}

// Entity is what features describe. Each key of an entity is one data
// subject with its own encryption key.
type Entity struct {
	Name        string
	JoinKey     string
	KeyType     KeyType
	Description string
}

// Field is one typed column of a view.
//
// Bounds and Constraints are different things. Bounds clamp a value's
// contribution to a differentially private aggregate and never refuse a
// write; Constraints refuse a write whose value breaks them and never
// change a value. When a field declares both, its bounds lie within
// [Constraints.Min, Constraints.Max].
type Field struct {
	Name        string
	Type        FieldType
	Tags        []string
	Bounds      []float64   // empty, or [min, max]
	Buckets     []float64   // histogram bucket edges, strictly increasing; empty: none declared
	AllowNaN    bool        // admit NaN and ±Inf in float fields
	Constraints Constraints // rules every written value must obey; zero: none
	Description string
}

// View is a feature view: typed fields about one entity.
//
// Fields are stored in the order they were first applied and never removed,
// so a field's position is stable and rows encode values by position.
type View struct {
	Name          string
	Entity        string
	Fields        []Field
	TTL           time.Duration // 0: values never expire
	Description   string
	SchemaVersion uint32 // starts at 1, grows when fields are added
	ID            uint32 // assigned at creation; prefixes the view's rows
}

// Field returns the field named name and its position.
func (v *View) Field(name string) (Field, int, bool) {
	for i, f := range v.Fields {
		if f.Name == name {
			return f, i, true
		}
	}
	return Field{}, -1, false
}

// Spec is a parsed spec file: entities and views to apply, in order.
type Spec struct {
	Entities []Entity
	Views    []View
}

// ApplyResult says what ApplyView changed.
type ApplyResult struct {
	Created bool
	Added   []string // names of fields added by this apply
}
