package store

import (
	"encoding/binary"
	"encoding/json"
	"time"
)

// Registry records in the data KV. Names cannot contain '/', so a name
// never reaches past its key's prefix.
const (
	entityPrefix = "m/entity/"  // + name: JSON entityRecord
	viewPrefix   = "m/view/"    // + name: JSON viewRecord
	viewSeqKey   = "m/seq/view" // last assigned view ID, uint32 big-endian
)

func entityKey(name string) []byte { return []byte(entityPrefix + name) }
func viewKey(name string) []byte   { return []byte(viewPrefix + name) }

// The stored JSON. Its field names are fixed here rather than derived from
// the Go structs, so renaming a Go field never changes what is on disk;
// types are stored by number (see FieldType) and the TTL in nanoseconds.

type entityRecord struct {
	Name        string  `json:"name"`
	JoinKey     string  `json:"join_key"`
	KeyType     KeyType `json:"key_type"`
	Description string  `json:"description,omitempty"`
}

type fieldRecord struct {
	Name     string    `json:"name"`
	Type     FieldType `json:"type"`
	Tags     []string  `json:"tags,omitempty"`
	Bounds   []float64 `json:"bounds,omitempty"`
	Buckets  []float64 `json:"buckets,omitempty"`
	AllowNaN bool      `json:"allow_nan,omitempty"`
	// Constraints is absent in records written before constraints
	// existed, and for fields that declare none: both decode to none.
	Constraints *constraintsRecord `json:"constraints,omitempty"`
	Description string             `json:"description,omitempty"`
}

type constraintsRecord struct {
	Required       bool     `json:"required,omitempty"`
	Min            *float64 `json:"min,omitempty"`
	Max            *float64 `json:"max,omitempty"`
	AllowedStrings []string `json:"allowed_strings,omitempty"`
	AllowedInts    []int64  `json:"allowed_ints,omitempty"`
	MaxLength      int      `json:"max_length,omitempty"`
}

func encodeConstraints(c *Constraints) *constraintsRecord {
	if c.IsZero() {
		return nil
	}
	return &constraintsRecord{Required: c.Required, Min: c.Min, Max: c.Max,
		AllowedStrings: c.AllowedStrings, AllowedInts: c.AllowedInts, MaxLength: c.MaxLength}
}

func decodeConstraints(r *constraintsRecord) Constraints {
	if r == nil {
		return Constraints{}
	}
	return cloneConstraints(Constraints{Required: r.Required, Min: r.Min, Max: r.Max,
		AllowedStrings: r.AllowedStrings, AllowedInts: r.AllowedInts, MaxLength: r.MaxLength})
}

type viewRecord struct {
	Name          string        `json:"name"`
	ID            uint32        `json:"id"`
	Entity        string        `json:"entity"`
	SchemaVersion uint32        `json:"schema_version"`
	TTLNanos      int64         `json:"ttl_ns,omitempty"`
	Description   string        `json:"description,omitempty"`
	Fields        []fieldRecord `json:"fields"`
}

func encodeEntity(e *Entity) ([]byte, error) {
	return json.Marshal(entityRecord{Name: e.Name, JoinKey: e.JoinKey, KeyType: e.KeyType, Description: e.Description})
}

func decodeEntity(b []byte) (Entity, error) {
	var r entityRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Entity{}, err
	}
	return Entity(r), nil
}

func encodeView(v *View) ([]byte, error) {
	r := viewRecord{Name: v.Name, ID: v.ID, Entity: v.Entity, SchemaVersion: v.SchemaVersion,
		TTLNanos: int64(v.TTL), Description: v.Description, Fields: make([]fieldRecord, len(v.Fields))}
	for i, f := range v.Fields {
		r.Fields[i] = fieldRecord{Name: f.Name, Type: f.Type, Tags: f.Tags, Bounds: f.Bounds, Buckets: f.Buckets,
			AllowNaN: f.AllowNaN, Constraints: encodeConstraints(&f.Constraints), Description: f.Description}
	}
	return json.Marshal(r)
}

func decodeView(b []byte) (View, error) {
	var r viewRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return View{}, err
	}
	v := View{Name: r.Name, ID: r.ID, Entity: r.Entity, SchemaVersion: r.SchemaVersion,
		TTL: time.Duration(r.TTLNanos), Description: r.Description, Fields: make([]Field, len(r.Fields))}
	for i, f := range r.Fields {
		v.Fields[i] = Field{Name: f.Name, Type: f.Type, Tags: f.Tags, Bounds: f.Bounds, Buckets: f.Buckets,
			AllowNaN: f.AllowNaN, Constraints: decodeConstraints(f.Constraints), Description: f.Description}
	}
	return v, nil
}

func encodeSeq(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }
