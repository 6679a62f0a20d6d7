package store

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxSpecBytes is the largest spec file ParseSpec reads.
const MaxSpecBytes = 8 << 20

// The YAML shape of a spec file, exactly as in the design brief. Keys the
// decoder does not know are refused, so a misspelt key ("allow_nans") is an
// error rather than a silently ignored setting.
type specYAML struct {
	Entities     []entityYAML `yaml:"entities"`
	FeatureViews []viewYAML   `yaml:"feature_views"`
}

type entityYAML struct {
	Name        string `yaml:"name"`
	JoinKey     string `yaml:"join_key"`
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
}

type viewYAML struct {
	Name        string      `yaml:"name"`
	Entity      string      `yaml:"entity"`
	TTL         string      `yaml:"ttl"`
	Description string      `yaml:"description"`
	Fields      []fieldYAML `yaml:"fields"`
}

type fieldYAML struct {
	Name        string      `yaml:"name"`
	Type        string      `yaml:"type"`
	Tags        []string    `yaml:"tags"`
	Bounds      []float64   `yaml:"bounds"`
	Buckets     []float64   `yaml:"buckets"`
	AllowNaN    bool        `yaml:"allow_nan"`
	Required    bool        `yaml:"required"`
	Min         *float64    `yaml:"min"`
	Max         *float64    `yaml:"max"`
	Allowed     []yaml.Node `yaml:"allowed"`
	MaxLength   *int        `yaml:"max_length"`
	Description string      `yaml:"description"`
}

// ParseSpec reads a spec file: one YAML document with a list of entities
// and a list of feature_views, in the format of the design brief:
//
//	entities:
//	  - {name: customer, join_key: customer_id, type: string}
//	feature_views:
//	  - name: customer_profile
//	    entity: customer
//	    ttl: 720h
//	    fields:
//	      - {name: income, type: float64, tags: [pii], bounds: [0, 1000000]}
//	      - {name: age, type: int64, required: true, min: 0, max: 150}
//	      - {name: tier, type: string, allowed: [gold, silver, bronze], max_length: 16}
//
// A field's keys: name and type; tags; bounds [min, max] and buckets
// (int64 and float64), which shape DP aggregates; allow_nan (float64 and
// list<float32>); description; and the value constraints that every write
// must obey (see Constraints): required (any type), min and max (int64 and
// float64, inclusive), allowed (a list of values of a string or int64
// field) and max_length (string and bytes, in bytes). Bounds clamp, never
// refuse; constraints refuse, never clamp; bounds must lie within
// [min, max].
//
// Every name, type, tag, bound, constraint and ttl is checked by the rules
// that ApplyEntity and ApplyView enforce; unknown keys, duplicate names
// and more than one YAML document are refused. An error is of kind KindInvalid
// and names the element (`feature_views[1] "customer_profile" field
// "income": ...`) and what to change.
//
// ParseSpec does not check that a view's entity exists: it may be defined
// in the same spec or already applied. ApplySpec checks that. The parsed
// views carry no ID or SchemaVersion; the store assigns them.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > MaxSpecBytes {
		return nil, errorf(KindInvalid, "spec is %d bytes; split it into files of at most %d bytes", len(data), MaxSpecBytes)
	}
	var f specYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errorf(KindInvalid, "spec is empty; define entities and feature_views")
		}
		return nil, yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, errorf(KindInvalid, "spec holds more than one YAML document; remove the '---' separators and list everything under one entities and one feature_views key")
	}
	if len(f.Entities) == 0 && len(f.FeatureViews) == 0 {
		return nil, errorf(KindInvalid, "spec defines no entities and no feature_views; add at least one")
	}

	spec := &Spec{}
	entityAt := make(map[string]int, len(f.Entities))
	for i, ey := range f.Entities {
		at := element("entities", i, ey.Name)
		e, err := ey.entity()
		if err != nil {
			return nil, within(at, err)
		}
		if j, dup := entityAt[e.Name]; dup {
			return nil, errorf(KindInvalid, "entities[%d] and entities[%d] both define entity %q; keep one", j, i, e.Name)
		}
		entityAt[e.Name] = i
		spec.Entities = append(spec.Entities, e)
	}
	viewAt := make(map[string]int, len(f.FeatureViews))
	for i, vy := range f.FeatureViews {
		at := element("feature_views", i, vy.Name)
		v, err := vy.view()
		if err != nil {
			return nil, within(at, err)
		}
		if j, dup := viewAt[v.Name]; dup {
			return nil, errorf(KindInvalid, "feature_views[%d] and feature_views[%d] both define view %q; keep one", j, i, v.Name)
		}
		viewAt[v.Name] = i
		spec.Views = append(spec.Views, v)
	}
	return spec, nil
}

// element names a spec element for a message: entities[0] "customer".
func element(list string, i int, name string) string {
	at := list + "[" + strconv.Itoa(i) + "]"
	if name != "" {
		at += " " + quoteName(name)
	}
	return at
}

func (ey *entityYAML) entity() (Entity, error) {
	kt, err := ParseKeyType(ey.Type)
	if err != nil {
		return Entity{}, err
	}
	e := Entity{Name: ey.Name, JoinKey: ey.JoinKey, KeyType: kt, Description: ey.Description}
	if e.JoinKey == "" {
		return Entity{}, errorf(KindInvalid, "join_key is missing; name the column that identifies each %s, such as %s_id", orDefault(e.Name, "entity"), orDefault(e.Name, "customer"))
	}
	return e, validateEntity(&e)
}

func (vy *viewYAML) view() (View, error) {
	if vy.Entity == "" {
		return View{}, errorf(KindInvalid, "entity is missing; name the entity this view describes, such as customer")
	}
	ttl, err := parseTTL(vy.TTL)
	if err != nil {
		return View{}, err
	}
	v := View{Name: vy.Name, Entity: vy.Entity, TTL: ttl, Description: vy.Description}
	for i, fy := range vy.Fields {
		f, err := fy.field()
		if err != nil {
			at := "fields[" + strconv.Itoa(i) + "]"
			if ValidateName("field", fy.Name) == nil {
				at = "field " + strconv.Quote(fy.Name)
			}
			return View{}, within(at, err)
		}
		v.Fields = append(v.Fields, f)
	}
	return v, validateView(&v)
}

func (fy *fieldYAML) field() (Field, error) {
	if fy.Type == "" {
		return Field{}, errorf(KindInvalid, "type is missing; use bool, int64, float64, string, bytes, timestamp or list<float32>")
	}
	t, err := ParseFieldType(fy.Type)
	if err != nil {
		return Field{}, err
	}
	f := Field{Name: fy.Name, Type: t, AllowNaN: fy.AllowNaN, Description: fy.Description}
	if len(fy.Tags) > 0 {
		f.Tags = fy.Tags
	}
	if len(fy.Bounds) > 0 {
		f.Bounds = fy.Bounds
	}
	if len(fy.Buckets) > 0 {
		f.Buckets = fy.Buckets
	}
	f.Constraints, err = fy.constraints(t)
	return f, err
}

// constraints reads a field's constraint keys. An int64 field's allowed
// values are YAML integers; any other field's are taken as text (a string
// field's allowed: [1, 2] allows "1" and "2"), and validateConstraints
// refuses them on a type that takes no allowed values.
func (fy *fieldYAML) constraints(t FieldType) (Constraints, error) {
	c := Constraints{Required: fy.Required, Min: fy.Min, Max: fy.Max}
	if fy.MaxLength != nil {
		if *fy.MaxLength < 1 {
			return Constraints{}, errorf(KindInvalid, "max_length %d must be at least 1; remove it for no limit", *fy.MaxLength)
		}
		c.MaxLength = *fy.MaxLength
	}
	for i := range fy.Allowed {
		n := &fy.Allowed[i]
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
			return Constraints{}, errorf(KindInvalid, "line %d: allowed[%d] is not a single value; list values such as [gold, silver] or [1, 2]", n.Line, i)
		}
		if t != Int64 {
			c.AllowedStrings = append(c.AllowedStrings, n.Value)
			continue
		}
		var x int64
		if n.ShortTag() != "!!int" || n.Decode(&x) != nil {
			return Constraints{}, errorf(KindInvalid, "line %d: allowed[%d] of an int64 field is not a whole number; list numbers such as [1, 2, 3], unquoted", n.Line, i)
		}
		c.AllowedInts = append(c.AllowedInts, x)
	}
	return c, nil
}

// parseTTL reads a view's ttl: a Go duration; "0" or absent means no
// expiry. A negative ttl parses and is refused by validateView.
func parseTTL(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errorf(KindInvalid, "ttl %q is not a Go duration; write it like 720h or 90m (units h, m, s, ms; there is no day unit), or 0 for no expiry", s)
	}
	return d, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
