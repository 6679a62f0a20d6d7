package store_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/store"
)

// constrainedSpec declares every constraint on every type that takes it.
const constrainedSpec = `
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: checked
    entity: customer
    fields:
      - {name: id,     type: string,  required: true}
      - {name: age,    type: int64,   min: 0, max: 150, bounds: [18, 100]}
      - {name: income, type: float64, min: 0, max: 1000000, bounds: [0, 500000]}
      - {name: score,  type: float64, allow_nan: true, min: -1, max: 1}
      - {name: tier,   type: string,  allowed: [gold, silver, bronze]}
      - {name: level,  type: int64,   allowed: [1, 2, 3], min: 1}
      - {name: email,  type: string,  max_length: 8}
      - {name: blob,   type: bytes,   max_length: 4}
      - {name: big,    type: int64,   min: -9007199254740992, max: 9007199254740992}
      - {name: flag,   type: bool,    required: true}
`

func constrainedView() store.View {
	return store.View{Name: "checked", Entity: "customer", Fields: []store.Field{
		{Name: "id", Type: store.String, Constraints: store.Constraints{Required: true}},
		{Name: "age", Type: store.Int64, Bounds: []float64{18, 100}, Constraints: store.Constraints{Min: new(0.0), Max: new(150.0)}},
		{Name: "income", Type: store.Float64, Bounds: []float64{0, 500000}, Constraints: store.Constraints{Min: new(0.0), Max: new(1e6)}},
		{Name: "score", Type: store.Float64, AllowNaN: true, Constraints: store.Constraints{Min: new(-1.0), Max: new(1.0)}},
		{Name: "tier", Type: store.String, Constraints: store.Constraints{AllowedStrings: []string{"gold", "silver", "bronze"}}},
		{Name: "level", Type: store.Int64, Constraints: store.Constraints{AllowedInts: []int64{1, 2, 3}, Min: new(1.0)}},
		{Name: "email", Type: store.String, Constraints: store.Constraints{MaxLength: 8}},
		{Name: "blob", Type: store.Bytes, Constraints: store.Constraints{MaxLength: 4}},
		{Name: "big", Type: store.Int64, Constraints: store.Constraints{Min: new(-9007199254740992.0), Max: new(9007199254740992.0)}},
		{Name: "flag", Type: store.Bool, Constraints: store.Constraints{Required: true}},
	}}
}

func TestParseSpecReadsConstraints(t *testing.T) {
	t.Parallel()
	spec, err := store.ParseSpec([]byte(constrainedSpec))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	if got, want := spec.Views[0], constrainedView(); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSpec view:\n got %+v\nwant %+v", got, want)
	}
}

func TestMarshalSpecRoundTripsConstraints(t *testing.T) {
	t.Parallel()
	spec := &store.Spec{Views: []store.View{{Name: "v", Entity: "customer", Fields: []store.Field{
		{Name: "age", Type: store.Int64, Constraints: store.Constraints{Required: true, Min: new(0.0), Max: new(150.0), AllowedInts: []int64{0, 7, 150}}},
		{Name: "big", Type: store.Int64, Constraints: store.Constraints{AllowedInts: []int64{-9223372036854775808, 9223372036854775807}}},
		// Values that would read back as numbers, booleans, null or a
		// mapping unless quoted, an empty string and multibyte text.
		{Name: "tier", Type: store.String, Constraints: store.Constraints{AllowedStrings: []string{"1", "true", "null", "", "a: b", "é"}, MaxLength: 4}},
		{Name: "x", Type: store.Float64, Bounds: []float64{0, 1}, Constraints: store.Constraints{Min: new(-0.5), Max: new(1e300)}},
	}}}}
	got, err := store.MarshalSpec(spec)
	if err != nil {
		t.Fatalf("MarshalSpec: %v", err)
	}
	const want = `feature_views:
  - name: v
    entity: customer
    fields:
      - {name: age, type: int64, required: true, min: 0, max: 150, allowed: [0, 7, 150]}
      - {name: big, type: int64, allowed: [-9223372036854775808, 9223372036854775807]}
      - {name: tier, type: string, allowed: ["1", "true", "null", "", 'a: b', é], max_length: 4}
      - {name: x, type: float64, bounds: [0, 1], min: -0.5, max: 1e+300}
`
	if string(got) != want {
		t.Errorf("MarshalSpec:\n got:\n%s\nwant:\n%s", got, want)
	}
	back, err := store.ParseSpec(got)
	if err != nil {
		t.Fatalf("ParseSpec(MarshalSpec): %v", err)
	}
	if !reflect.DeepEqual(back, spec) {
		t.Errorf("re-parsed:\n got %+v\nwant %+v", back, spec)
	}
}

func TestMarshalSpecRefusesBothAllowedLists(t *testing.T) {
	t.Parallel()
	spec := &store.Spec{Views: []store.View{{Name: "v", Entity: "c", Fields: []store.Field{
		{Name: "a", Type: store.Int64, Constraints: store.Constraints{AllowedInts: []int64{1}, AllowedStrings: []string{"1"}}},
	}}}}
	_, err := store.MarshalSpec(spec)
	if want := `view "v" field "a" has both allowed strings and allowed ints`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("MarshalSpec error = %v, want one containing %q", err, want)
	}
}

func TestParseSpecRefusesBadConstraintsSayingWhatToFix(t *testing.T) {
	t.Parallel()
	tooMany := make([]string, store.MaxAllowedValues+1)
	for i := range tooMany {
		tooMany[i] = strconv.Itoa(i)
	}
	tests := []struct {
		name  string
		field string
		want  []string // substrings the message must contain, after `feature_views[0] "v" field "a"`
	}{
		{"min above max", "{name: a, type: float64, min: 5, max: 1}", []string{"min 5 is above max 1", "min <= max"}},
		{"min on a string", "{name: a, type: string, min: 0}", []string{"min and max apply only to int64 and float64 fields, not string", "max_length or allowed"}},
		{"max on a bool", "{name: a, type: bool, max: 1}", []string{"not bool; remove them"}},
		{"max on a list", `{name: a, type: "list<float32>", max: 1}`, []string{"not list<float32>"}},
		{"NaN min", "{name: a, type: float64, min: .nan}", []string{"min NaN must be a finite number"}},
		{"infinite max", "{name: a, type: float64, max: .inf}", []string{"max +Inf must be a finite number"}},
		{"fractional int64 min", "{name: a, type: int64, min: 0.5}", []string{"min 0.5 of an int64 field must be a whole number"}},
		{"int64 max past 2^53", "{name: a, type: int64, max: 9007199254740994}", []string{"between -2^53 and 2^53"}},
		{"bounds below min", "{name: a, type: float64, min: 0, bounds: [-1, 1]}", []string{"bounds [-1, 1] reach below min 0", "within [min, max]", "at least 0"}},
		{"bounds above max", "{name: a, type: int64, max: 10, bounds: [0, 11]}", []string{"bounds [0, 11] reach above max 10", "at most 10"}},
		{"allowed on a float", "{name: a, type: float64, allowed: [1.5]}", []string{"allowed applies only to string and int64 fields, not float64; use min and max"}},
		{"allowed on a bool", "{name: a, type: bool, allowed: [true]}", []string{"not bool; remove it"}},
		{"allowed on bytes", "{name: a, type: bytes, allowed: [x]}", []string{"not bytes; remove it"}},
		{"fractional allowed int", "{name: a, type: int64, allowed: [1, 1.5]}", []string{"allowed[1] of an int64 field is not a whole number", "unquoted"}},
		{"quoted allowed int", `{name: a, type: int64, allowed: ["1"]}`, []string{"allowed[0] of an int64 field is not a whole number"}},
		{"allowed int out of range", "{name: a, type: int64, allowed: [9223372036854775808]}", []string{"allowed[0] of an int64 field is not a whole number"}},
		{"null allowed value", "{name: a, type: string, allowed: [x, ~]}", []string{"allowed[1] is not a single value"}},
		{"list as allowed value", "{name: a, type: string, allowed: [x, [y]]}", []string{"allowed[1] is not a single value"}},
		{"duplicate allowed string", "{name: a, type: string, allowed: [x, y, x]}", []string{"allowed[2] repeats allowed[0]; list each value once"}},
		{"duplicate allowed int", "{name: a, type: int64, allowed: [1, 0x1]}", []string{"allowed[1] repeats allowed[0]"}},
		{"allowed int below min", "{name: a, type: int64, min: 0, allowed: [0, -1]}", []string{"allowed[1] -1 is below min 0"}},
		{"allowed int above max", "{name: a, type: int64, max: 5, allowed: [6]}", []string{"allowed[0] 6 is above max 5"}},
		{"allowed string past max_length", "{name: a, type: string, max_length: 2, allowed: [ab, é, abc]}", []string{"allowed[2] is 3 bytes, longer than max_length 2"}},
		{"allowed string past max_length in bytes", "{name: a, type: string, max_length: 2, allowed: [éé]}", []string{"allowed[0] is 4 bytes, longer than max_length 2"}},
		{"too many allowed values", "{name: a, type: string, allowed: [" + strings.Join(tooMany, ", ") + "]}", []string{"allowed lists 1001 values; list at most 1000"}},
		{"max_length zero", "{name: a, type: string, max_length: 0}", []string{"max_length 0 must be at least 1; remove it for no limit"}},
		{"max_length negative", "{name: a, type: bytes, max_length: -3}", []string{"max_length -3 must be at least 1"}},
		{"max_length on an int64", "{name: a, type: int64, max_length: 3}", []string{"max_length applies only to string and bytes fields, not int64"}},
		{"max_length past the value limit", "{name: a, type: string, max_length: 262145}", []string{"max_length 262145 exceeds the 262144-byte limit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec, err := store.ParseSpec([]byte(oneView("", tc.field)))
			if err == nil {
				t.Fatalf("ParseSpec succeeded with %+v; want an error", spec)
			}
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("error %v: want kind ErrInvalid", err)
			}
			for _, w := range append([]string{`feature_views[0] "v" field "a"`}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// Constraint keys of the wrong YAML kind are refused by the decoder, with
// the line and what belongs there.
func TestParseSpecRefusesConstraintKeysOfTheWrongKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field string
		want  string
	}{
		{"{name: a, type: float64, min: zero}", `found text "zero" where a number belongs`},
		{"{name: a, type: string, max_length: long}", `found text "long" where a whole number belongs`},
		{"{name: a, type: string, required: maybe}", `found text "maybe" where true or false belongs`},
		{"{name: a, type: string, allowed: x}", `found text "x" where a list belongs`},
		{"{name: a, type: string, maxlength: 3}", `unknown key "maxlength" in a field; the keys are name, type, tags, bounds, buckets, allow_nan, required, min, max, allowed, max_length, description`},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			t.Parallel()
			_, err := store.ParseSpec([]byte(oneView("", tc.field)))
			if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "line 7") {
				t.Errorf("ParseSpec error = %v, want ErrInvalid at line 7 containing %q", err, tc.want)
			}
		})
	}
}

// The API path (ApplyView) holds constraints to the same rules as a spec
// file, including the combinations YAML cannot express.
func TestApplyViewRefusesBadConstraintsNamingViewAndField(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	tests := []struct {
		name  string
		field store.Field
		want  string
	}{
		{"text allowed on an int64", store.Field{Name: "a", Type: store.Int64, Constraints: store.Constraints{AllowedStrings: []string{"1"}}},
			"allowed values of an int64 field are whole numbers"},
		{"numbers allowed on a string", store.Field{Name: "a", Type: store.String, Constraints: store.Constraints{AllowedInts: []int64{1}}},
			"allowed values of a string field are text, not numbers"},
		{"both lists", store.Field{Name: "a", Type: store.String, Constraints: store.Constraints{AllowedStrings: []string{"x"}, AllowedInts: []int64{1}}},
			"allowed values of a string field are text, not numbers"},
		{"invalid UTF-8 allowed", store.Field{Name: "a", Type: store.String, Constraints: store.Constraints{AllowedStrings: []string{"ok", "\xff"}}},
			"allowed[1] is not valid UTF-8"},
		{"negative max_length", store.Field{Name: "a", Type: store.Bytes, Constraints: store.Constraints{MaxLength: -1}},
			"max_length -1 must be at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := s.ApplyView(store.View{Name: "fresh", Entity: "customer", Fields: []store.Field{tc.field}})
			want := `view "fresh" field "a": ` + tc.want
			if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), want) {
				t.Errorf("ApplyView error = %v, want ErrInvalid containing %q", err, want)
			}
			if _, err := s.View("fresh"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("after a refused apply, View(fresh) error = %v, want ErrNotFound", err)
			}
		})
	}
}
