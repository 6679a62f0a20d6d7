package store

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// MarshalSpec writes spec in the format ParseSpec reads, so that a parsed
// spec marshals and re-parses to the same Spec. Fields are written one per
// line in flow style, as in the design brief; a view that carries an ID (one
// read back from the store) gets a comment with its ID and schema version,
// which ParseSpec ignores.
func MarshalSpec(spec *Spec) ([]byte, error) {
	root := mapping()
	if len(spec.Entities) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range spec.Entities {
			if e.KeyType != KeyString && e.KeyType != KeyInt64 {
				return nil, errorf(KindInvalid, "entity %q has unknown key type %s", e.Name, e.KeyType)
			}
			m := mapping()
			add(m, "name", text(e.Name))
			add(m, "join_key", text(e.JoinKey))
			add(m, "type", text(e.KeyType.String()))
			if e.Description != "" {
				add(m, "description", text(e.Description))
			}
			list.Content = append(list.Content, m)
		}
		add(root, "entities", list)
	}
	if len(spec.Views) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range spec.Views {
			m, err := viewNode(&v)
			if err != nil {
				return nil, err
			}
			list.Content = append(list.Content, m)
		}
		add(root, "feature_views", list)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("store: marshal spec: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("store: marshal spec: %w", err)
	}
	return buf.Bytes(), nil
}

func viewNode(v *View) (*yaml.Node, error) {
	m := mapping()
	if v.ID != 0 {
		m.HeadComment = fmt.Sprintf("id %d, schema version %d", v.ID, v.SchemaVersion)
	}
	add(m, "name", text(v.Name))
	add(m, "entity", text(v.Entity))
	if v.TTL != 0 {
		add(m, "ttl", text(fmtDuration(v.TTL)))
	}
	if v.Description != "" {
		add(m, "description", text(v.Description))
	}
	fields := &yaml.Node{Kind: yaml.SequenceNode}
	for _, f := range v.Fields {
		if _, ok := fieldTypeNames[f.Type]; !ok {
			return nil, errorf(KindInvalid, "view %q field %q has unknown type %s", v.Name, f.Name, f.Type)
		}
		fm := mapping()
		fm.Style = yaml.FlowStyle
		add(fm, "name", text(f.Name))
		add(fm, "type", text(f.Type.String()))
		if len(f.Tags) > 0 {
			tags := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, t := range f.Tags {
				tags.Content = append(tags.Content, text(t))
			}
			add(fm, "tags", tags)
		}
		for _, list := range []struct {
			key    string
			values []float64
		}{{"bounds", f.Bounds}, {"buckets", f.Buckets}} {
			if len(list.values) > 0 {
				seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
				for _, b := range list.values {
					seq.Content = append(seq.Content, number(b))
				}
				add(fm, list.key, seq)
			}
		}
		if f.AllowNaN {
			add(fm, "allow_nan", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		}
		if err := addConstraints(fm, &f.Constraints); err != nil {
			return nil, errorf(KindInvalid, "view %q field %q %s", v.Name, f.Name, trimPrefix(err))
		}
		if f.Description != "" {
			add(fm, "description", text(f.Description))
		}
		fields.Content = append(fields.Content, fm)
	}
	add(m, "fields", fields)
	return m, nil
}

// addConstraints adds c's keys to the field mapping fm, in the order of
// the spec format: required, min, max, allowed, max_length.
func addConstraints(fm *yaml.Node, c *Constraints) error {
	if c.Required {
		add(fm, "required", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if c.Min != nil {
		add(fm, "min", number(*c.Min))
	}
	if c.Max != nil {
		add(fm, "max", number(*c.Max))
	}
	if len(c.AllowedStrings) > 0 && len(c.AllowedInts) > 0 {
		return errorf(KindInvalid, "has both allowed strings and allowed ints; keep the list of the field's type")
	}
	if len(c.AllowedStrings) > 0 || len(c.AllowedInts) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, s := range c.AllowedStrings {
			seq.Content = append(seq.Content, text(s))
		}
		for _, x := range c.AllowedInts {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)})
		}
		add(fm, "allowed", seq)
	}
	if c.MaxLength != 0 {
		add(fm, "max_length", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(c.MaxLength)})
	}
	return nil
}

// The node builders. MarshalSpec builds the YAML tree itself rather than
// encoding structs, to choose each scalar's style: yaml.v3 would write
// some strings (a lone newline) in styles that do not read back the same.

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, text(key), v)
}

// text is a string scalar: plain or single-quoted as the encoder sees fit,
// but double-quoted, the one style that keeps every character, when it has
// line breaks, control characters or edge spaces.
func text(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if unusualText(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func unusualText(s string) bool {
	if strings.TrimSpace(s) != s {
		return true
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return true
		}
	}
	return false
}

// number is a float scalar spelt as a person would: 1000000, not 1e+06.
func number(x float64) *yaml.Node {
	v := fmtFloat(x)
	switch {
	case math.IsNaN(x):
		v = ".nan"
	case math.IsInf(x, 1):
		v = ".inf"
	case math.IsInf(x, -1):
		v = "-.inf"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: v}
}
