package store

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

const constrainedRegistrySpec = `
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: income, type: float64, required: true, min: 0, max: 1000000, bounds: [0, 500000]}
      - {name: tier,   type: string,  allowed: [gold, "007", ""], max_length: 8}
      - {name: level,  type: int64,   allowed: [-3, 9223372036854775807]}
      - {name: note,   type: bytes,   max_length: 3}
      - {name: plain,  type: bool}
`

func TestConstraintsPersistAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() *kv.Badger {
		b, err := kv.OpenBadger(kv.DefaultOptions(dir).WithSyncWrites(false))
		if err != nil {
			t.Fatalf("open kv: %v", err)
		}
		return b
	}
	data := open()
	s := registryStore(t, data)
	spec, err := ParseSpec([]byte(constrainedRegistrySpec))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	if err := s.ApplySpec(spec); err != nil {
		t.Fatalf("ApplySpec: %v", err)
	}
	want := s.Views()
	if err := data.Close(); err != nil {
		t.Fatalf("close kv: %v", err)
	}

	data = open()
	t.Cleanup(func() { _ = data.Close() })
	r := registryStore(t, data)
	got := r.Views()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("views after reopen:\n got %+v\nwant %+v", got, want)
	}
	wantFields := spec.Views[0].Fields
	if !reflect.DeepEqual(got[0].Fields, wantFields) {
		t.Errorf("fields after reopen:\n got %+v\nwant (as parsed) %+v", got[0].Fields, wantFields)
	}
	// The reopened store checks writes: its snapshot holds the compiled
	// rules of the four constrained fields, in view order.
	_, _, rules, err := r.lookupWrite("profile")
	if err != nil || rules == nil {
		t.Fatalf("lookupWrite after reopen = %v, %v; want compiled rules", rules, err)
	}
	var names []string
	for _, fr := range rules.fields {
		names = append(names, fr.name)
	}
	if want := []string{"income", "tier", "level", "note"}; !reflect.DeepEqual(names, want) {
		t.Errorf("compiled rules after reopen cover %v, want %v", names, want)
	}
	if pr := rules.check([]any{nil, "gold", nil, nil, nil}); pr == nil || pr.field != "income" || !strings.Contains(pr.msg, "is required") {
		t.Errorf("check of a row without the required income = %+v, want a required refusal", pr)
	}
}

// A record written before constraints existed has no "constraints" key and
// decodes to a view without any; one written now keeps them exactly,
// int64 values beyond 2^53 included.
func TestViewRecordsWithAndWithoutConstraintsDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		record string
		want   Constraints
	}{
		{"before constraints", `{"name":"profile","id":1,"entity":"customer","schema_version":1,"fields":[{"name":"a","type":2,"bounds":[0,5]}]}`, Constraints{}},
		{"with constraints", `{"name":"profile","id":1,"entity":"customer","schema_version":1,"fields":[{"name":"a","type":2,` +
			`"constraints":{"required":true,"min":0,"max":5,"allowed_ints":[0,9223372036854775807]}}]}`,
			Constraints{Required: true, Min: new(0.0), Max: new(5.0), AllowedInts: []int64{0, math.MaxInt64}}},
		{"empty constraints object", `{"name":"profile","id":1,"entity":"customer","schema_version":1,"fields":[{"name":"a","type":2,"constraints":{}}]}`, Constraints{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := memKV(t)
			ops := []kv.Op{
				{Key: []byte("m/entity/customer"), Value: []byte(`{"name":"customer","join_key":"customer_id","key_type":1}`)},
				{Key: []byte("m/seq/view"), Value: []byte{0, 0, 0, 1}},
				{Key: []byte("m/view/profile"), Value: []byte(tc.record)},
			}
			if err := data.Apply(ops); err != nil {
				t.Fatal(err)
			}
			s := registryStore(t, data)
			v, err := s.View("profile")
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Fields[0].Constraints; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded constraints = %+v, want %+v", got, tc.want)
			}
			_, _, rules, _ := s.lookupWrite("profile")
			if (rules != nil) != !tc.want.IsZero() {
				t.Errorf("compiled rules = %v; want them exactly when the field has constraints", rules)
			}
			b, err := encodeView(&v)
			if err != nil {
				t.Fatal(err)
			}
			if has := strings.Contains(string(b), `"constraints"`); has == tc.want.IsZero() {
				t.Errorf("re-encoded record %s: has a constraints key = %v, want %v", b, has, !tc.want.IsZero())
			}
		})
	}
}

// Checking a row that obeys every constraint allocates nothing: the check
// runs on every row of every write.
func TestConstraintCheckOfAGoodRowDoesNotAllocate(t *testing.T) {
	spec, err := ParseSpec([]byte(constrainedRegistrySpec))
	if err != nil {
		t.Fatal(err)
	}
	rules := compileRules(&spec.Views[0])
	good := []any{52000.5, "gold", int64(-3), []byte("abc"), true}
	if pr := rules.check(good); pr != nil {
		t.Fatalf("check of a good row = %+v, want nil", pr)
	}
	if allocs := testing.AllocsPerRun(1000, func() { _ = rules.check(good) }); allocs != 0 {
		t.Errorf("check of a good row allocates %v times, want 0", allocs)
	}
	if pr := rules.check([]any{52000.5, "lead", int64(-3), nil, nil}); pr == nil || pr.field != "tier" {
		t.Errorf("check of a row with a tier not allowed = %+v, want a refusal of tier", pr)
	}
}

func TestCompileRulesSkipsViewsWithoutConstraints(t *testing.T) {
	t.Parallel()
	v := View{Name: "v", Fields: []Field{{Name: "a", Type: Int64, Bounds: []float64{0, 1}}, {Name: "b", Type: String}}}
	if r := compileRules(&v); r != nil {
		t.Errorf("compileRules of a view without constraints = %+v, want nil", r)
	}
}
