package store

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// MaxAllowedValues is the longest list of allowed values a field may
// declare. A longer list is a lookup table, not a constraint: keep it
// upstream.
const MaxAllowedValues = 1000

// Constraints are the rules every value written to a field must obey: the
// first line against poisoned or broken upstream data. Write and Ingest
// check them on every row, after the value's type; a row that breaks one
// refuses the whole request (Ingest reports every such row) with an error
// of kind KindInvalid that names the view, the field, the row's position
// and the rule broken ("is above max 1000000"), never the value or the
// entity key: the declared rule is schema, the value is data.
//
// The zero Constraints declares nothing. In a spec file they are keys of a
// field:
//
//	fields:
//	  - {name: age,   type: int64,  required: true, min: 0, max: 150}
//	  - {name: tier,  type: string, allowed: [gold, silver, bronze]}
//	  - {name: email, type: string, max_length: 254}
//
// Constraints are schema, not data: like names and bounds they are stored
// in the clear in the registry and quoted in error messages (allowed
// values included), so never list a secret value in AllowedStrings.
//
// Constraints are not bounds (see Field): bounds clamp DP contributions,
// constraints refuse writes. Changing a view's constraints is a compatible
// change (no new schema version): it applies to writes from then on, and
// never to rows already stored, which stay readable whatever they hold.
// Rows that reach the store by other paths than Write and Ingest — a
// subject-key rotation re-encrypting stored rows, a restored backup — are
// not checked.
type Constraints struct {
	// Required refuses a row that leaves the field out or sets it NULL.
	Required bool
	// Min and Max, when set, are the smallest and largest value an int64 or
	// float64 field accepts, inclusive. They are finite, Min <= Max, and
	// for an int64 field whole numbers within ±2^53 (as bounds are). NaN,
	// admitted only by allow_nan, has no order and passes them; ±Inf are
	// compared like any number.
	Min, Max *float64
	// AllowedStrings lists the values a string field accepts, compared
	// byte for byte; AllowedInts those of an int64 field. Empty: any value.
	// At most MaxAllowedValues, no duplicates, each within Min, Max and
	// MaxLength.
	AllowedStrings []string
	AllowedInts    []int64
	// MaxLength, when positive, is the longest value a string or bytes
	// field accepts, in bytes: a string's UTF-8 encoding ("é" is 2 bytes),
	// not its characters. At most MaxValueBytes.
	MaxLength int
}

// IsZero reports whether c declares nothing.
func (c Constraints) IsZero() bool {
	return !c.Required && c.Min == nil && c.Max == nil && len(c.AllowedStrings) == 0 &&
		len(c.AllowedInts) == 0 && c.MaxLength == 0
}

// validateConstraints checks f's constraints against its type and its
// bounds. It runs after validateBounds. Messages are relative to the field.
func validateConstraints(f *Field) error {
	c := &f.Constraints
	if err := validateMinMax(f); err != nil {
		return err
	}
	if c.MaxLength != 0 {
		if f.Type != String && f.Type != Bytes {
			return errorf(KindInvalid, "max_length applies only to string and bytes fields, not %s; remove it", f.Type)
		}
		if c.MaxLength < 0 {
			return errorf(KindInvalid, "max_length %d must be at least 1; remove it for no limit", c.MaxLength)
		}
		if c.MaxLength > MaxValueBytes {
			return errorf(KindInvalid, "max_length %d exceeds the %d-byte limit every value has; lower it or remove it", c.MaxLength, MaxValueBytes)
		}
	}
	if len(c.AllowedStrings) > 0 && f.Type != String || len(c.AllowedInts) > 0 && f.Type != Int64 {
		return wrongAllowed(f.Type)
	}
	if err := validateAllowedStrings(c); err != nil {
		return err
	}
	return validateAllowedInts(c)
}

func wrongAllowed(t FieldType) error {
	switch t {
	case Int64:
		return errorf(KindInvalid, "allowed values of an int64 field are whole numbers such as [1, 2, 3], not text")
	case String:
		return errorf(KindInvalid, "allowed values of a string field are text, not numbers")
	case Float64:
		return errorf(KindInvalid, "allowed applies only to string and int64 fields, not float64; use min and max")
	}
	return errorf(KindInvalid, "allowed applies only to string and int64 fields, not %s; remove it", t)
}

func validateMinMax(f *Field) error {
	c := &f.Constraints
	if c.Min == nil && c.Max == nil {
		return nil
	}
	if f.Type != Int64 && f.Type != Float64 {
		hint := "remove them"
		if f.Type == String || f.Type == Bytes {
			hint = "use max_length or allowed for text"
		}
		return errorf(KindInvalid, "min and max apply only to int64 and float64 fields, not %s; %s", f.Type, hint)
	}
	for _, b := range []struct {
		key string
		x   *float64
	}{{"min", c.Min}, {"max", c.Max}} {
		if b.x == nil {
			continue
		}
		x := *b.x
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return errorf(KindInvalid, "%s %s must be a finite number (no NaN or infinity)", b.key, fmtFloat(x))
		}
		if f.Type == Int64 && (x != math.Trunc(x) || math.Abs(x) > maxExactInt) {
			return errorf(KindInvalid, "%s %s of an int64 field must be a whole number between -2^53 and 2^53", b.key, fmtFloat(x))
		}
	}
	if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
		return errorf(KindInvalid, "min %s is above max %s; write min <= max", fmtFloat(*c.Min), fmtFloat(*c.Max))
	}
	if len(f.Bounds) == 2 {
		lo, hi := f.Bounds[0], f.Bounds[1]
		if c.Min != nil && lo < *c.Min {
			return errorf(KindInvalid, "bounds [%s, %s] reach below min %s: DP bounds must lie within [min, max], where every written value is; raise the lower bound to at least %s",
				fmtFloat(lo), fmtFloat(hi), fmtFloat(*c.Min), fmtFloat(*c.Min))
		}
		if c.Max != nil && hi > *c.Max {
			return errorf(KindInvalid, "bounds [%s, %s] reach above max %s: DP bounds must lie within [min, max], where every written value is; lower the upper bound to at most %s",
				fmtFloat(lo), fmtFloat(hi), fmtFloat(*c.Max), fmtFloat(*c.Max))
		}
	}
	return nil
}

func validateAllowedStrings(c *Constraints) error {
	if err := validateAllowedCount(len(c.AllowedStrings)); err != nil {
		return err
	}
	seen := make(map[string]int, len(c.AllowedStrings))
	for i, s := range c.AllowedStrings {
		at := "allowed[" + strconv.Itoa(i) + "]"
		if !utf8.ValidString(s) {
			return errorf(KindInvalid, "%s is not valid UTF-8", at)
		}
		if c.MaxLength > 0 && len(s) > c.MaxLength {
			return errorf(KindInvalid, "%s is %d bytes, longer than max_length %d; shorten it or raise max_length", at, len(s), c.MaxLength)
		}
		if len(s) > MaxValueBytes {
			return errorf(KindInvalid, "%s is %d bytes, beyond the %d-byte limit every value has", at, len(s), MaxValueBytes)
		}
		if j, dup := seen[s]; dup {
			return errorf(KindInvalid, "%s repeats allowed[%d]; list each value once", at, j)
		}
		seen[s] = i
	}
	return nil
}

func validateAllowedInts(c *Constraints) error {
	if err := validateAllowedCount(len(c.AllowedInts)); err != nil {
		return err
	}
	lo, hi := intRange(c)
	seen := make(map[int64]int, len(c.AllowedInts))
	for i, x := range c.AllowedInts {
		at := "allowed[" + strconv.Itoa(i) + "]"
		if x < lo {
			return errorf(KindInvalid, "%s %d is below min %d; remove it or lower min", at, x, lo)
		}
		if x > hi {
			return errorf(KindInvalid, "%s %d is above max %d; remove it or raise max", at, x, hi)
		}
		if j, dup := seen[x]; dup {
			return errorf(KindInvalid, "%s repeats allowed[%d]; list each value once", at, j)
		}
		seen[x] = i
	}
	return nil
}

func validateAllowedCount(n int) error {
	if n > MaxAllowedValues {
		return errorf(KindInvalid, "allowed lists %d values; list at most %d, or check the values upstream", n, MaxAllowedValues)
	}
	return nil
}

// intRange is the inclusive range of int64 values c's Min and Max admit.
// A bound outside int64 (which validation refuses, but an old registry
// record might hold) is clamped, never converted with overflow.
func intRange(c *Constraints) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if c.Min != nil && !math.IsNaN(*c.Min) {
		lo = clampInt(math.Ceil(*c.Min))
	}
	if c.Max != nil && !math.IsNaN(*c.Max) {
		hi = clampInt(math.Floor(*c.Max))
	}
	return lo, hi
}

func clampInt(x float64) int64 {
	switch {
	case x <= math.MinInt64:
		return math.MinInt64
	case x >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(x)
}
