package store

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxDescriptionLen is the longest description of an entity, view or field,
// in bytes.
const MaxDescriptionLen = 4096

// maxExactInt is the largest magnitude an int64 bound may have: every whole
// number up to it is exact in a float64.
const maxExactInt = 1 << 53

// The checks below are shared by ParseSpec and the Apply methods, so a view
// is held to the same rules whether it came from YAML or from the API.
// Their messages are relative to the element being checked ("field
// \"income\": ..."); callers prefix the element with within.

// within prefixes an error of this package with the element it concerns,
// keeping its kind. A field is a part of its view, so `view "v"` and
// `field "f": ...` join with a space: `view "v" field "f": ...`.
func within(prefix string, err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	sep := ": "
	if strings.HasPrefix(e.msg, "field \"") || strings.HasPrefix(e.msg, "fields ") || strings.HasPrefix(e.msg, "fields[") {
		sep = " "
	}
	return &Error{Kind: e.Kind, msg: prefix + sep + e.msg}
}

func validateEntity(e *Entity) error {
	if err := ValidateName("entity", e.Name); err != nil {
		return err
	}
	if err := ValidateName("join key", e.JoinKey); err != nil {
		return err
	}
	if e.KeyType != KeyString && e.KeyType != KeyInt64 {
		return errorf(KindInvalid, "join key type %s is unknown; use string or int64", e.KeyType)
	}
	return validateDescription(e.Description)
}

func validateView(v *View) error {
	if err := ValidateName("view", v.Name); err != nil {
		return err
	}
	if err := ValidateName("entity", v.Entity); err != nil {
		return err
	}
	if v.TTL < 0 {
		return errorf(KindInvalid, "ttl %s is negative; use 0 for no expiry or a positive duration such as 720h", v.TTL)
	}
	if err := validateDescription(v.Description); err != nil {
		return err
	}
	if len(v.Fields) == 0 {
		return errorf(KindInvalid, "no fields; declare at least one under fields")
	}
	seen := make(map[string]int, len(v.Fields))
	for i := range v.Fields {
		f := &v.Fields[i]
		if err := ValidateName("field", f.Name); err != nil {
			return within("fields["+strconv.Itoa(i)+"]", err)
		}
		if j, dup := seen[f.Name]; dup {
			return errorf(KindInvalid, "field %q is declared twice (fields[%d] and fields[%d]); keep one or rename the other", f.Name, j, i)
		}
		seen[f.Name] = i
		if err := validateField(f); err != nil {
			return within("field "+strconv.Quote(f.Name), err)
		}
	}
	return nil
}

func validateField(f *Field) error {
	if _, ok := fieldTypeNames[f.Type]; !ok {
		return errorf(KindInvalid, "type %s is unknown; use bool, int64, float64, string, bytes, timestamp or list<float32>", f.Type)
	}
	seen := make(map[string]bool, len(f.Tags))
	for _, t := range f.Tags {
		if err := ValidateName("tag", t); err != nil {
			return err
		}
		if seen[t] {
			return errorf(KindInvalid, "tag %q is listed twice; list it once", t)
		}
		seen[t] = true
	}
	if err := validateBounds(f); err != nil {
		return err
	}
	if err := validateBuckets(f); err != nil {
		return err
	}
	if err := validateConstraints(f); err != nil {
		return err
	}
	if f.AllowNaN && f.Type != Float64 && f.Type != Float32List {
		return errorf(KindInvalid, "allow_nan applies only to float64 and list<float32> fields, not %s; remove it", f.Type)
	}
	return validateDescription(f.Description)
}

func validateBounds(f *Field) error {
	b := f.Bounds
	if len(b) == 0 {
		return nil
	}
	if f.Type != Int64 && f.Type != Float64 {
		return errorf(KindInvalid, "bounds apply only to int64 and float64 fields, not %s; remove them", f.Type)
	}
	if len(b) != 2 {
		return errorf(KindInvalid, "bounds has %d values; write [min, max]", len(b))
	}
	lo, hi := b[0], b[1]
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return errorf(KindInvalid, "bounds [%s, %s] must be finite numbers (no NaN or infinity)", fmtFloat(lo), fmtFloat(hi))
	}
	if lo >= hi {
		return errorf(KindInvalid, "bounds [%s, %s] must be [min, max] with min < max", fmtFloat(lo), fmtFloat(hi))
	}
	if f.Type == Int64 {
		for _, x := range b {
			if x != math.Trunc(x) || math.Abs(x) > maxExactInt {
				return errorf(KindInvalid, "bounds [%s, %s] of an int64 field must be whole numbers between -2^53 and 2^53", fmtFloat(lo), fmtFloat(hi))
			}
		}
	}
	return nil
}

// validateBuckets checks a field's declared histogram bucket edges: at
// least two, finite, strictly increasing, on a numeric field.
func validateBuckets(f *Field) error {
	b := f.Buckets
	if len(b) == 0 {
		return nil
	}
	if f.Type != Int64 && f.Type != Float64 {
		return errorf(KindInvalid, "buckets apply only to int64 and float64 fields, not %s; remove them", f.Type)
	}
	if len(b) < 2 {
		return errorf(KindInvalid, "buckets has %d edge; give at least two, e.g. [0, 100, 1000]", len(b))
	}
	for i, x := range b {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return errorf(KindInvalid, "bucket edge %d must be a finite number (no NaN or infinity)", i)
		}
		if i > 0 && x <= b[i-1] {
			return errorf(KindInvalid, "bucket edges must increase: %s does not follow %s", fmtFloat(x), fmtFloat(b[i-1]))
		}
	}
	return nil
}

func validateDescription(d string) error {
	if len(d) > MaxDescriptionLen {
		return errorf(KindInvalid, "description is %d bytes long; shorten it to at most %d", len(d), MaxDescriptionLen)
	}
	if !utf8.ValidString(d) {
		return errorf(KindInvalid, "description is not valid UTF-8")
	}
	return nil
}

// fmtFloat spells a float the way a spec file would: whole numbers without an
// exponent while they are short.
func fmtFloat(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// fmtDuration spells a TTL the way a spec file would: "720h", not
// "720h0m0s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
