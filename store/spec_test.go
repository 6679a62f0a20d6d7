package store_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/store"
)

// designSpec is the spec of the design brief, plus an int64-keyed entity
// and the keys the brief's example leaves out.
const designSpec = `
entities:
  - name: customer
    join_key: customer_id
    type: string              # string | int64
  - name: merchant
    join_key: merchant_id
    type: int64
    description: A merchant
feature_views:
  - name: customer_profile
    entity: customer
    ttl: 720h                 # Go duration; 0 or absent = no expiry
    description: Profile features of a customer
    fields:
      - {name: email,  type: string,  tags: [pii]}
      - {name: income, type: float64, tags: [pii, sensitive], bounds: [0, 1000000]}
      - {name: age,    type: int64}
      - {name: embedding, type: "list<float32>"}
  - name: merchant_risk
    entity: merchant
    ttl: 0
    fields:
      - name: score
        type: float64
        allow_nan: true
        bounds: [-1.5, 1.5]
        description: "Risk score: higher is riskier"
      - {name: seen, type: timestamp, tags: [ops.daily, team-risk]}
      - {name: flagged, type: bool}
      - {name: blob, type: bytes}
`

func designSpecWant() *store.Spec {
	return &store.Spec{
		Entities: []store.Entity{
			{Name: "customer", JoinKey: "customer_id", KeyType: store.KeyString},
			{Name: "merchant", JoinKey: "merchant_id", KeyType: store.KeyInt64, Description: "A merchant"},
		},
		Views: []store.View{
			{
				Name: "customer_profile", Entity: "customer", TTL: 720 * time.Hour,
				Description: "Profile features of a customer",
				Fields: []store.Field{
					{Name: "email", Type: store.String, Tags: []string{"pii"}},
					{Name: "income", Type: store.Float64, Tags: []string{"pii", "sensitive"}, Bounds: []float64{0, 1000000}},
					{Name: "age", Type: store.Int64},
					{Name: "embedding", Type: store.Float32List},
				},
			},
			{
				Name: "merchant_risk", Entity: "merchant",
				Fields: []store.Field{
					{Name: "score", Type: store.Float64, AllowNaN: true, Bounds: []float64{-1.5, 1.5}, Description: "Risk score: higher is riskier"},
					{Name: "seen", Type: store.Timestamp, Tags: []string{"ops.daily", "team-risk"}},
					{Name: "flagged", Type: store.Bool},
					{Name: "blob", Type: store.Bytes},
				},
			},
		},
	}
}

func TestParseSpecReadsTheDesignFormat(t *testing.T) {
	t.Parallel()
	got, err := store.ParseSpec([]byte(designSpec))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	if want := designSpecWant(); !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSpec:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseSpecTTLForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ttl  string // the YAML after "ttl:", or "" for no ttl key
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{`"0"`, 0},
		{"0s", 0},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"720h", 720 * time.Hour},
		{"1.5s", 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.ttl, func(t *testing.T) {
			t.Parallel()
			ttl := ""
			if tc.ttl != "" {
				ttl = "ttl: " + tc.ttl
			}
			spec, err := store.ParseSpec([]byte(oneView(ttl, "{name: a, type: int64}")))
			if err != nil {
				t.Fatalf("ParseSpec: %v", err)
			}
			if got := spec.Views[0].TTL; got != tc.want {
				t.Errorf("ttl %s parsed as %v, want %v", tc.ttl, got, tc.want)
			}
		})
	}
}

// oneView returns a spec with entity customer and one view v with the
// given extra view line (such as "ttl: 1h") and field lines.
func oneView(viewLine string, fields ...string) string {
	var b strings.Builder
	b.WriteString("entities:\n  - {name: customer, join_key: customer_id, type: string}\n")
	b.WriteString("feature_views:\n  - name: v\n    entity: customer\n")
	if viewLine != "" {
		b.WriteString("    " + viewLine + "\n")
	}
	b.WriteString("    fields:\n")
	for _, f := range fields {
		b.WriteString("      - " + f + "\n")
	}
	return b.String()
}

func TestParseSpecRefusesBadSpecsSayingWhatToFix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec string
		want []string // substrings the message must contain
	}{
		{"unknown field type", oneView("", "{name: a, type: float}"),
			[]string{`feature_views[0] "v" field "a"`, `unknown field type "float"`, "use bool, int64, float64"}},
		{"missing field type", oneView("", "{name: a}"),
			[]string{`field "a"`, "type is missing", "use bool"}},
		{"unknown join key type", "entities: [{name: c, join_key: c_id, type: uuid}]",
			[]string{`entities[0] "c"`, `"uuid"`, "use string or int64"}},
		{"missing join key", "entities: [{name: c}]",
			[]string{`entities[0] "c"`, "join_key is missing"}},
		{"missing view entity", "feature_views: [{name: v, fields: [{name: a, type: bool}]}]",
			[]string{`feature_views[0] "v"`, "entity is missing"}},
		{"no fields", oneView(""),
			[]string{`feature_views[0] "v"`, "declare at least one"}},

		{"view name with comma", strings.Replace(oneView("", "{name: a, type: bool}"), "name: v\n", "name: \"a,b\"\n", 1),
			[]string{`feature_views[0] "a,b"`, "a comma at position 2", "use only a-z, 0-9 and _"}},
		{"field name with quote", oneView("", `{name: "a\"b", type: bool}`),
			[]string{`fields[0]`, "a quote at position 2"}},
		{"field name with newline", oneView("", `{name: "a\nb", type: bool}`),
			[]string{`fields[0]`, `"a\nb"`, "a newline at position 2"}},
		{"view name with space", strings.Replace(oneView("", "{name: a, type: bool}"), "name: v\n", "name: customer profile\n", 1),
			[]string{`"customer profile"`, "a space at position 9"}},
		{"entity name upper case", "entities: [{name: Customer, join_key: customer_id}]",
			[]string{`entities[0] "Customer"`, "must start with a lower-case letter"}},
		{"field name upper case", oneView("", "{name: inCome, type: bool}"),
			[]string{`fields[0]`, `upper-case letter 'C'`, "use lower case"}},
		{"field name with hyphen", oneView("", "{name: in-come, type: bool}"),
			[]string{`fields[0]`, "hyphen (use _ instead)"}},
		{"join key with dot", "entities: [{name: c, join_key: c.id}]",
			[]string{`entities[0] "c"`, `join key name "c.id"`, "a dot"}},
		{"name starting with a digit", oneView("", "{name: 1a, type: bool}"),
			[]string{"must start with a lower-case letter"}},
		{"name too long", oneView("", "{name: "+strings.Repeat("a", 64)+", type: bool}"),
			[]string{"64 bytes long; use at most 63"}},
		{"tag with space", oneView("", `{name: a, type: bool, tags: ["p ii"]}`),
			[]string{`field "a"`, `tag name "p ii" has a space`}},
		{"tag with comma", oneView("", `{name: a, type: bool, tags: ["pii,admin"]}`),
			[]string{`tag name "pii,admin" has a comma`}},
		{"duplicate tag", oneView("", `{name: a, type: bool, tags: [pii, pii]}`),
			[]string{`tag "pii" is listed twice`}},

		{"duplicate field", oneView("", "{name: a, type: bool}", "{name: b, type: bool}", "{name: a, type: int64}"),
			[]string{`feature_views[0] "v" field "a" is declared twice (fields[0] and fields[2])`}},
		{"duplicate entity", "entities: [{name: c, join_key: c_id}, {name: c, join_key: c_id}]",
			[]string{"entities[0] and entities[1] both define entity \"c\""}},
		{"duplicate view", oneView("", "{name: a, type: bool}") + "  - {name: v, entity: customer, fields: [{name: b, type: bool}]}\n",
			[]string{"feature_views[0] and feature_views[1] both define view \"v\""}},

		{"ttl in days", oneView("ttl: 30d", "{name: a, type: bool}"),
			[]string{`feature_views[0] "v"`, `ttl "30d" is not a Go duration`, "720h", "no day unit"}},
		{"ttl without unit", oneView("ttl: 720", "{name: a, type: bool}"),
			[]string{`ttl "720" is not a Go duration`}},
		{"negative ttl", oneView("ttl: -1h", "{name: a, type: bool}"),
			[]string{`feature_views[0] "v"`, "ttl -1h0m0s is negative", "use 0 for no expiry"}},

		{"buckets on a string field", oneView("", "{name: a, type: string, buckets: [0, 1]}"),
			[]string{`field "a"`, "buckets apply only to int64 and float64 fields", "remove them"}},
		{"one bucket edge", oneView("", "{name: a, type: float64, buckets: [0]}"),
			[]string{`field "a"`, "give at least two"}},
		{"bucket edges not increasing", oneView("", "{name: a, type: int64, buckets: [0, 10, 10]}"),
			[]string{"bucket edges must increase", "10 does not follow 10"}},
		{"NaN bucket edge", oneView("", "{name: a, type: float64, buckets: [0, .nan]}"),
			[]string{"bucket edge 1 must be a finite number"}},
		{"bounds on a string field", oneView("", "{name: a, type: string, bounds: [0, 1]}"),
			[]string{`field "a"`, "bounds apply only to int64 and float64 fields, not string", "remove them"}},
		{"bounds min > max", oneView("", "{name: a, type: float64, bounds: [5, 1]}"),
			[]string{`field "a"`, "bounds [5, 1]", "min < max"}},
		{"bounds min = max", oneView("", "{name: a, type: float64, bounds: [1, 1]}"),
			[]string{"bounds [1, 1]", "min < max"}},
		{"NaN bound", oneView("", "{name: a, type: float64, bounds: [.nan, 1]}"),
			[]string{"bounds [NaN, 1] must be finite"}},
		{"infinite bound", oneView("", "{name: a, type: float64, bounds: [0, .inf]}"),
			[]string{"must be finite"}},
		{"one bound", oneView("", "{name: a, type: float64, bounds: [1]}"),
			[]string{"bounds has 1 values; write [min, max]"}},
		{"fractional int64 bound", oneView("", "{name: a, type: int64, bounds: [0, 1.5]}"),
			[]string{"whole numbers"}},
		{"allow_nan on int64", oneView("", "{name: a, type: int64, allow_nan: true}"),
			[]string{"allow_nan applies only to float64 and list<float32>"}},

		{"unknown top-level key", "views: []\n",
			[]string{"line 1", `unknown key "views"`, "the keys are entities, feature_views"}},
		{"unknown entity key", "entities: [{name: c, joinkey: c_id}]",
			[]string{`unknown key "joinkey" in an entity`, "join_key"}},
		{"unknown view key", oneView("ttl_seconds: 5", "{name: a, type: bool}"),
			[]string{"line 6", `unknown key "ttl_seconds" in a feature view`, "ttl"}},
		{"unknown field key", oneView("", "{name: a, type: float64, allow_nans: true}"),
			[]string{`unknown key "allow_nans" in a field`, "allow_nan"}},
		{"fields as a mapping", "feature_views: [{name: v, entity: c, fields: {a: int64}}]",
			[]string{"found a mapping where a list belongs"}},
		{"bound as text", oneView("", "{name: a, type: float64, bounds: [zero, 1]}"),
			[]string{`found text "zero" where a number belongs`}},
		{"spec is a list", "- a\n",
			[]string{"found a list where the top level of the spec"}},
		{"not YAML", "entities: [\n",
			[]string{"not valid YAML", "line"}},
		{"empty", "",
			[]string{"spec is empty"}},
		{"only a comment", "# nothing\n",
			[]string{"spec is empty"}},
		{"nothing defined", "entities: []\n",
			[]string{"defines no entities and no feature_views"}},
		{"duplicate key", "entities: []\nentities: []\n",
			[]string{`line 2: mapping key "entities" already defined at line 1`}},
		{"two documents", "entities: [{name: c, join_key: c_id}]\n---\nentities: []\n",
			[]string{"more than one YAML document"}},
		{"too large", "# " + strings.Repeat("x", store.MaxSpecBytes),
			[]string{"split it"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec, err := store.ParseSpec([]byte(tc.spec))
			if err == nil {
				t.Fatalf("ParseSpec succeeded with %+v; want an error", spec)
			}
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("error %v: want kind ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestMarshalSpecWritesTheDesignFormat(t *testing.T) {
	t.Parallel()
	spec := designSpecWant()
	spec.Views[0].ID, spec.Views[0].SchemaVersion = 7, 2
	got, err := store.MarshalSpec(spec)
	if err != nil {
		t.Fatalf("MarshalSpec: %v", err)
	}
	const want = `entities:
  - name: customer
    join_key: customer_id
    type: string
  - name: merchant
    join_key: merchant_id
    type: int64
    description: A merchant
feature_views:
  # id 7, schema version 2
  - name: customer_profile
    entity: customer
    ttl: 720h
    description: Profile features of a customer
    fields:
      - {name: email, type: string, tags: [pii]}
      - {name: income, type: float64, tags: [pii, sensitive], bounds: [0, 1000000]}
      - {name: age, type: int64}
      - {name: embedding, type: list<float32>}
  - name: merchant_risk
    entity: merchant
    fields:
      - {name: score, type: float64, bounds: [-1.5, 1.5], allow_nan: true, description: 'Risk score: higher is riskier'}
      - {name: seen, type: timestamp, tags: [ops.daily, team-risk]}
      - {name: flagged, type: bool}
      - {name: blob, type: bytes}
`
	if string(got) != want {
		t.Errorf("MarshalSpec:\n got:\n%s\nwant:\n%s", got, want)
	}
	back, err := store.ParseSpec(got)
	if err != nil {
		t.Fatalf("ParseSpec(MarshalSpec): %v", err)
	}
	spec.Views[0].ID, spec.Views[0].SchemaVersion = 0, 0 // not part of the format
	if !reflect.DeepEqual(back, spec) {
		t.Errorf("re-parsed:\n got %+v\nwant %+v", back, spec)
	}
}

func TestMarshalSpecRefusesUnknownTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		spec store.Spec
		want string
	}{
		{"key type", store.Spec{Entities: []store.Entity{{Name: "c", JoinKey: "c_id", KeyType: 9}}}, `entity "c" has unknown key type`},
		{"field type", store.Spec{Views: []store.View{{Name: "v", Entity: "c", Fields: []store.Field{{Name: "a", Type: 99}}}}}, `view "v" field "a" has unknown type`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := store.MarshalSpec(&tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("MarshalSpec error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzParseSpec checks that ParseSpec never panics and that every spec it
// accepts survives MarshalSpec and ParseSpec unchanged.
func FuzzParseSpec(f *testing.F) {
	f.Add(designSpec)
	f.Add(oneView("ttl: 1h30m", "{name: a, type: float64, bounds: [-1e300, 1e300], allow_nan: true}"))
	f.Add(oneView("description: \"multi\\nline: 'q' \\\"d\\\"\"", `{name: a, type: bytes, description: "- [x] {y}: #z"}`))
	f.Add("entities: [{name: c, join_key: c_id, type: int64, description: \"\\u00e9\\t\"}]")
	f.Add("entities: &a [{name: c, join_key: c_id}]\nfeature_views: []\n")
	f.Add("feature_views: [{name: v, entity: c, ttl: 0.5ms, fields: [{name: a, type: timestamp, tags: [x.y-z]}]}]")
	f.Add(oneView("", "{name: a, type: int64, required: true, min: -5, max: 5, bounds: [-1, 1], allowed: [-5, 0, 0x5]}",
		`{name: b, type: string, allowed: ["1", "", 'x: y', é, null_, "~"], max_length: 3}`, "{name: c, type: bytes, max_length: 1}",
		"{name: d, type: float64, min: -1e300, max: 1e-300, allow_nan: true}"))
	f.Fuzz(func(t *testing.T, data string) {
		spec, err := store.ParseSpec([]byte(data))
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("ParseSpec error %v is not ErrInvalid", err)
			}
			return
		}
		out, err := store.MarshalSpec(spec)
		if err != nil {
			t.Fatalf("MarshalSpec of a parsed spec: %v", err)
		}
		back, err := store.ParseSpec(out)
		if err != nil {
			t.Fatalf("ParseSpec(MarshalSpec(spec)): %v\nYAML:\n%s", err, out)
		}
		if !reflect.DeepEqual(back, spec) {
			t.Fatalf("round trip changed the spec:\n got %+v\nwant %+v\nYAML:\n%s", back, spec, out)
		}
	})
}
