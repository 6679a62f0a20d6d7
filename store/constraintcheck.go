package store

import (
	"strconv"
	"strings"
)

// viewRules are a view's constraints compiled for the write path: built
// once when the view is loaded or applied, published with the registry
// snapshot next to the view, and read by every row of every write. They
// hold only the fields that declare a constraint, so a view without any
// costs nothing, and checking a good row allocates nothing.
type viewRules struct {
	view   string
	fields []fieldRule
}

// fieldRule is one field's constraints in the form the check reads.
type fieldRule struct {
	pos            int // the field's position in the view and in a row's values
	name           string
	c              *Constraints // as declared, for the messages
	required       bool
	hasMin, hasMax bool
	min, max       float64 // float64 fields
	minInt, maxInt int64   // int64 fields: exact, whatever their magnitude
	maxLen         int     // 0: none
	strs           map[string]struct{}
	ints           map[int64]struct{}
}

// compileRules returns v's compiled constraints, or nil when no field
// declares one. It never fails: a stored view is compiled as it is, so a
// rule tightened in a later release cannot stop a store from opening.
func compileRules(v *View) *viewRules {
	var r *viewRules
	for i := range v.Fields {
		f := &v.Fields[i]
		c := &f.Constraints
		if c.IsZero() {
			continue
		}
		if r == nil {
			r = &viewRules{view: v.Name}
		}
		fr := fieldRule{pos: i, name: f.Name, c: c, required: c.Required, maxLen: c.MaxLength}
		switch f.Type {
		case Float64:
			if c.Min != nil {
				fr.hasMin, fr.min = true, *c.Min
			}
			if c.Max != nil {
				fr.hasMax, fr.max = true, *c.Max
			}
		case Int64:
			fr.hasMin, fr.hasMax = c.Min != nil, c.Max != nil
			fr.minInt, fr.maxInt = intRange(c)
			if len(c.AllowedInts) > 0 {
				fr.ints = make(map[int64]struct{}, len(c.AllowedInts))
				for _, x := range c.AllowedInts {
					fr.ints[x] = struct{}{}
				}
			}
		case String:
			if len(c.AllowedStrings) > 0 {
				fr.strs = make(map[string]struct{}, len(c.AllowedStrings))
				for _, s := range c.AllowedStrings {
					fr.strs[s] = struct{}{}
				}
			}
		}
		r.fields = append(r.fields, fr)
	}
	return r
}

// check reports the first constraint, in field order, that vals (a row's
// checked values in canonical types, nil for NULL) break. Its message
// names the view, the field and the rule, never the value.
func (r *viewRules) check(vals []any) *rowProblem {
	for i := range r.fields {
		fr := &r.fields[i]
		if rule := fr.broken(vals[fr.pos]); rule != "" {
			return &rowProblem{kind: KindInvalid, field: fr.name,
				msg: "view " + quoteName(r.view) + " field " + quoteName(fr.name) + " " + rule}
		}
	}
	return nil
}

// broken returns which rule x breaks, as the end of a sentence that starts
// with the field ("is above max 1000000; ..."), or "" when x obeys every
// rule. Only a broken rule builds a string.
func (fr *fieldRule) broken(x any) string {
	switch x := x.(type) {
	case nil:
		if fr.required {
			return "is required; give it a non-null value in every row"
		}
	case float64:
		// NaN fails both comparisons and passes: allow_nan admitted it.
		if fr.hasMin && x < fr.min {
			return "is below min " + fmtFloat(fr.min) + fixHint
		}
		if fr.hasMax && x > fr.max {
			return "is above max " + fmtFloat(fr.max) + fixHint
		}
	case int64:
		if fr.hasMin && x < fr.minInt {
			return "is below min " + strconv.FormatInt(fr.minInt, 10) + fixHint
		}
		if fr.hasMax && x > fr.maxInt {
			return "is above max " + strconv.FormatInt(fr.maxInt, 10) + fixHint
		}
		if fr.ints != nil {
			if _, ok := fr.ints[x]; !ok {
				return "is not one of the allowed values " + fr.allowedList() + fixHint
			}
		}
	case string:
		if fr.maxLen > 0 && len(x) > fr.maxLen {
			return "is longer than max_length " + strconv.Itoa(fr.maxLen) + " bytes" + fixHint
		}
		if fr.strs != nil {
			if _, ok := fr.strs[x]; !ok {
				return "is not one of the allowed values " + fr.allowedList() + fixHint
			}
		}
	case []byte:
		if fr.maxLen > 0 && len(x) > fr.maxLen {
			return "is longer than max_length " + strconv.Itoa(fr.maxLen) + " bytes" + fixHint
		}
	}
	return ""
}

// fixHint ends a message about a broken constraint.
const fixHint = " declared in the spec; fix the source data, or change the constraint and apply the spec again"

// maxListed is how many allowed values a message spells out, each at most
// maxListedBytes long; a longer list is only counted.
const (
	maxListed      = 5
	maxListedBytes = 40
)

// allowedList spells the declared allowed values for a message: they are
// schema (the registry holds them in the clear), not data.
func (fr *fieldRule) allowedList() string {
	var vals []string
	for _, x := range fr.c.AllowedInts {
		vals = append(vals, strconv.FormatInt(x, 10))
	}
	for _, s := range fr.c.AllowedStrings {
		if len(s) > maxListedBytes {
			return "(" + strconv.Itoa(len(fr.c.AllowedStrings)) + " of them)"
		}
		vals = append(vals, strconv.Quote(s))
	}
	if len(vals) > maxListed {
		return strings.Join(vals[:maxListed], ", ") + " and " + strconv.Itoa(len(vals)-maxListed) + " more"
	}
	return strings.Join(vals, ", ")
}
