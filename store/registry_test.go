package store

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/kv"
)

// countingKV counts Apply calls and can be made to fail them.
type countingKV struct {
	kv.Store
	applies atomic.Int32
	fail    atomic.Bool
}

var errApplyFailed = errors.New("test: apply failed")

func (c *countingKV) Apply(ops []kv.Op) error {
	if c.fail.Load() {
		return errApplyFailed
	}
	c.applies.Add(1)
	return c.Store.Apply(ops)
}

func memKV(t *testing.T) *countingKV {
	t.Helper()
	b, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatalf("open in-memory kv: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &countingKV{Store: b}
}

// registryStore returns a store over data with just enough set up for the
// registry: what New does before it serves.
func registryStore(t *testing.T, data kv.Store) *Store {
	t.Helper()
	s := &Store{data: data}
	if err := s.loadRegistry(); err != nil {
		t.Fatalf("loadRegistry: %v", err)
	}
	return s
}

var customer = Entity{Name: "customer", JoinKey: "customer_id", KeyType: KeyString}

func profileView(fields ...Field) View {
	return View{Name: "profile", Entity: "customer", Fields: fields}
}

func mustApplyEntity(t *testing.T, s *Store, e Entity) {
	t.Helper()
	if _, _, err := s.ApplyEntity(e); err != nil {
		t.Fatalf("ApplyEntity(%s): %v", e.Name, err)
	}
}

func mustApplyView(t *testing.T, s *Store, v View) (View, ApplyResult) {
	t.Helper()
	got, res, err := s.ApplyView(v)
	if err != nil {
		t.Fatalf("ApplyView(%s): %v", v.Name, err)
	}
	return got, res
}

func TestApplyViewCreatesWithVersionOneAndFreshIDs(t *testing.T) {
	t.Parallel()
	s := registryStore(t, memKV(t))
	mustApplyEntity(t, s, customer)
	for i, name := range []string{"b_view", "a_view", "c_view"} {
		in := View{Name: name, Entity: "customer", TTL: time.Hour, ID: 99, SchemaVersion: 42,
			Fields: []Field{{Name: "x", Type: Int64}, {Name: "y", Type: Float64, Tags: []string{"pii"}, Bounds: []float64{0, 1}}}}
		got, res := mustApplyView(t, s, in)
		want := in
		want.ID, want.SchemaVersion = uint32(i+1), 1
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ApplyView(%s) = %+v, want %+v", name, got, want)
		}
		if wantRes := (ApplyResult{Created: true, Added: []string{"x", "y"}}); !reflect.DeepEqual(res, wantRes) {
			t.Errorf("ApplyView(%s) result = %+v, want %+v", name, res, wantRes)
		}
		if stored, err := s.View(name); err != nil || !reflect.DeepEqual(stored, want) {
			t.Errorf("View(%s) = %+v, %v; want %+v", name, stored, err, want)
		}
	}
	var names []string
	for _, v := range s.Views() {
		names = append(names, v.Name)
	}
	if want := []string{"a_view", "b_view", "c_view"}; !slices.Equal(names, want) {
		t.Errorf("Views() names = %v, want %v (sorted)", names, want)
	}
}

func TestApplyUnchangedWritesNothing(t *testing.T) {
	t.Parallel()
	data := memKV(t)
	s := registryStore(t, data)
	mustApplyEntity(t, s, customer)
	v := profileView(Field{Name: "a", Type: Int64, Tags: []string{}}, Field{Name: "b", Type: String, Tags: []string{"pii"}})
	first, _ := mustApplyView(t, s, v)
	before := data.applies.Load()

	got, res := mustApplyView(t, s, v)
	if res.Created || res.Added != nil {
		t.Errorf("re-apply result = %+v, want Created=false, Added=nil", res)
	}
	if !reflect.DeepEqual(got, first) {
		t.Errorf("re-apply returned %+v, want the stored %+v", got, first)
	}
	// Fields listed in another order are the same view.
	swapped := profileView(v.Fields[1], v.Fields[0])
	if _, res := mustApplyView(t, s, swapped); res.Created || res.Added != nil {
		t.Errorf("re-apply in another order: result = %+v, want no change", res)
	}
	e, created, err := s.ApplyEntity(customer)
	if err != nil || created || e != customer {
		t.Errorf("re-apply entity = %+v, %v, %v; want %+v, false, nil", e, created, err, customer)
	}
	if err := s.ApplySpec(&Spec{Entities: []Entity{customer}, Views: []View{v}}); err != nil {
		t.Fatalf("re-apply spec: %v", err)
	}
	if n := data.applies.Load() - before; n != 0 {
		t.Errorf("unchanged applies wrote %d batches, want 0", n)
	}
}

func TestApplyViewAddingFieldsBumpsVersionAndKeepsOrder(t *testing.T) {
	t.Parallel()
	s := registryStore(t, memKV(t))
	mustApplyEntity(t, s, customer)
	v1, _ := mustApplyView(t, s, profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: String}))

	// New fields anywhere in the spec are appended in spec order.
	got, res := mustApplyView(t, s, profileView(
		Field{Name: "c", Type: Bool}, Field{Name: "b", Type: String}, Field{Name: "a", Type: Int64}, Field{Name: "d", Type: Bytes}))
	if want := (ApplyResult{Added: []string{"c", "d"}}); !reflect.DeepEqual(res, want) {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	if names := fieldNames(got.Fields); !slices.Equal(names, []string{"a", "b", "c", "d"}) {
		t.Errorf("fields = %v, want [a b c d]", names)
	}
	if got.SchemaVersion != 2 || got.ID != v1.ID {
		t.Errorf("version, ID = %d, %d; want 2, %d", got.SchemaVersion, got.ID, v1.ID)
	}

	// Metadata changes are stored without a new version.
	meta := profileView(
		Field{Name: "a", Type: Int64, Tags: []string{"pii"}, Bounds: []float64{0, 10}, Description: "A"},
		Field{Name: "b", Type: String}, Field{Name: "c", Type: Bool}, Field{Name: "d", Type: Bytes})
	meta.TTL, meta.Description = 2*time.Hour, "changed"
	got, res = mustApplyView(t, s, meta)
	if res.Created || res.Added != nil {
		t.Errorf("metadata change result = %+v, want nothing added", res)
	}
	want := meta
	want.ID, want.SchemaVersion = v1.ID, 2
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after metadata change = %+v, want %+v", got, want)
	}
}

func TestApplyRefusesIncompatibleChangesAndChangesNothing(t *testing.T) {
	t.Parallel()
	merchant := Entity{Name: "merchant", JoinKey: "merchant_id", KeyType: KeyInt64}
	tests := []struct {
		name  string
		apply func(*Store) error
		kind  error
		want  []string
	}{
		{"field type change", func(s *Store) error {
			_, _, err := s.ApplyView(profileView(Field{Name: "a", Type: Float64}, Field{Name: "b", Type: String}))
			return err
		}, ErrConflict, []string{`view "profile" field "a" is int64 and cannot change to float64`, "add a field with a new name"}},
		{"field removed", func(s *Store) error {
			_, _, err := s.ApplyView(profileView(Field{Name: "b", Type: String}))
			return err
		}, ErrConflict, []string{`view "profile" field "a" cannot be removed`, "declare it again"}},
		{"fields removed", func(s *Store) error {
			_, _, err := s.ApplyView(profileView(Field{Name: "z", Type: String}))
			return err
		}, ErrConflict, []string{`fields "a", "b" cannot be removed`}},
		{"view entity change", func(s *Store) error {
			v := profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: String})
			v.Entity = "merchant"
			_, _, err := s.ApplyView(v)
			return err
		}, ErrConflict, []string{`view "profile": its entity is "customer" and cannot change to "merchant"`, "define a new view"}},
		{"view on unknown entity", func(s *Store) error {
			_, _, err := s.ApplyView(View{Name: "other", Entity: "nobody", Fields: []Field{{Name: "a", Type: Bool}}})
			return err
		}, ErrNotFound, []string{`view "other": entity "nobody" does not exist`, "define it under entities"}},
		{"entity key type change", func(s *Store) error {
			e := customer
			e.KeyType = KeyInt64
			_, _, err := s.ApplyEntity(e)
			return err
		}, ErrConflict, []string{`entity "customer" has string keys and cannot change to int64`}},
		{"invalid view", func(s *Store) error {
			_, _, err := s.ApplyView(profileView(Field{Name: "a", Type: Int64, Bounds: []float64{1, 0}}, Field{Name: "b", Type: String}))
			return err
		}, ErrInvalid, []string{`view "profile" field "a": bounds [1, 0]`}},
		{"description not UTF-8", func(s *Store) error {
			v := profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: String, Description: "\xff"})
			_, _, err := s.ApplyView(v)
			return err
		}, ErrInvalid, []string{`view "profile" field "b": description is not valid UTF-8`}},
		{"description too long", func(s *Store) error {
			v := profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: String})
			v.Description = strings.Repeat("d", MaxDescriptionLen+1)
			_, _, err := s.ApplyView(v)
			return err
		}, ErrInvalid, []string{`view "profile": description is 4097 bytes long`}},
		{"unset key type", func(s *Store) error {
			_, _, err := s.ApplyEntity(Entity{Name: "x", JoinKey: "x_id"})
			return err
		}, ErrInvalid, []string{`entity "x": join key type KeyType(0) is unknown; use string or int64`}},
		{"unset field type", func(s *Store) error {
			_, _, err := s.ApplyView(profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: String}, Field{Name: "c"}))
			return err
		}, ErrInvalid, []string{`view "profile" field "c": type FieldType(0) is unknown`}},
		{"invalid entity", func(s *Store) error {
			_, _, err := s.ApplyEntity(Entity{Name: "x", JoinKey: "X", KeyType: KeyString})
			return err
		}, ErrInvalid, []string{`entity "x": join key name "X"`}},
		{"spec with one bad view", func(s *Store) error {
			return s.ApplySpec(&Spec{
				Entities: []Entity{{Name: "new_entity", JoinKey: "id", KeyType: KeyString}, customer},
				Views: []View{
					{Name: "new_view", Entity: "new_entity", Fields: []Field{{Name: "a", Type: Bool}}},
					profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: String}, Field{Name: "c", Type: Bool}),
					profileView(Field{Name: "a", Type: String}),
				},
			})
		}, ErrConflict, []string{`view "profile"`}},
		{"spec view on unknown entity", func(s *Store) error {
			spec, err := ParseSpec([]byte("feature_views: [{name: v2, entity: nobody, fields: [{name: a, type: bool}]}]"))
			if err != nil {
				return err
			}
			return s.ApplySpec(spec)
		}, ErrNotFound, []string{`view "v2": entity "nobody" does not exist; define it under entities in the spec, or apply it first`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := memKV(t)
			s := registryStore(t, data)
			mustApplyEntity(t, s, customer)
			mustApplyEntity(t, s, merchant)
			mustApplyView(t, s, profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: String}))
			views, entities, applies := s.Views(), s.Entities(), data.applies.Load()

			err := tc.apply(s)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error = %v, want kind %v", err, tc.kind)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if n := data.applies.Load() - applies; n != 0 {
				t.Errorf("a refused apply wrote %d batches, want 0", n)
			}
			if got := s.Views(); !reflect.DeepEqual(got, views) {
				t.Errorf("views after refusal = %+v, want %+v", got, views)
			}
			if got := s.Entities(); !reflect.DeepEqual(got, entities) {
				t.Errorf("entities after refusal = %+v, want %+v", got, entities)
			}
			if reopened := registryStore(t, data); !reflect.DeepEqual(reopened.Views(), views) {
				t.Errorf("stored views after refusal = %+v, want %+v", reopened.Views(), views)
			}
		})
	}
}

func TestApplyEntityMayRenameJoinKeyAndDescription(t *testing.T) {
	t.Parallel()
	s := registryStore(t, memKV(t))
	if _, created, err := s.ApplyEntity(customer); err != nil || !created {
		t.Fatalf("first ApplyEntity: created=%v, err=%v; want true, nil", created, err)
	}
	changed := Entity{Name: "customer", JoinKey: "cust_id", KeyType: KeyString, Description: "d"}
	got, created, err := s.ApplyEntity(changed)
	if err != nil || created || got != changed {
		t.Fatalf("ApplyEntity(changed) = %+v, %v, %v; want %+v, false, nil", got, created, err, changed)
	}
	if e, err := s.Entity("customer"); err != nil || e != changed {
		t.Errorf("Entity = %+v, %v; want %+v", e, err, changed)
	}
}

func TestApplyFailureInKVLeavesRegistryUnchanged(t *testing.T) {
	t.Parallel()
	data := memKV(t)
	s := registryStore(t, data)
	mustApplyEntity(t, s, customer)
	before, _ := mustApplyView(t, s, profileView(Field{Name: "a", Type: Int64}))

	data.fail.Store(true)
	if _, _, err := s.ApplyView(profileView(Field{Name: "a", Type: Int64}, Field{Name: "b", Type: Bool})); !errors.Is(err, errApplyFailed) {
		t.Fatalf("ApplyView with failing kv: %v, want %v", err, errApplyFailed)
	}
	if _, _, err := s.ApplyView(View{Name: "other", Entity: "customer", Fields: []Field{{Name: "a", Type: Bool}}}); !errors.Is(err, errApplyFailed) {
		t.Fatalf("ApplyView with failing kv: %v, want %v", err, errApplyFailed)
	}
	data.fail.Store(false)
	if got, _ := s.View("profile"); !reflect.DeepEqual(got, before) {
		t.Errorf("after a failed apply View = %+v, want %+v", got, before)
	}
	// The failed creation did not use up an ID.
	other, _ := mustApplyView(t, s, View{Name: "other", Entity: "customer", Fields: []Field{{Name: "a", Type: Bool}}})
	if other.ID != before.ID+1 {
		t.Errorf("ID after failed create = %d, want %d", other.ID, before.ID+1)
	}
}

func TestRegistryPersistsAcrossReopen(t *testing.T) {
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
	spec, err := ParseSpec([]byte(`
entities:
  - {name: customer, join_key: customer_id, type: string, description: People}
  - {name: merchant, join_key: merchant_id, type: int64}
feature_views:
  - name: profile
    entity: customer
    ttl: 720h
    fields:
      - {name: income, type: float64, tags: [pii, sensitive], bounds: [0, 1000000], allow_nan: true, description: Yearly}
      - {name: embedding, type: "list<float32>"}
  - name: risk
    entity: merchant
    fields:
      - {name: score, type: int64, bounds: [-5, 5]}
`))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	if err := s.ApplySpec(spec); err != nil {
		t.Fatalf("ApplySpec: %v", err)
	}
	mustApplyView(t, s, View{Name: "profile", Entity: "customer", TTL: 720 * time.Hour, Fields: append(spec.Views[0].Fields, Field{Name: "age", Type: Int64})})
	views, entities := s.Views(), s.Entities()
	if err := data.Close(); err != nil {
		t.Fatalf("close kv: %v", err)
	}

	data = open()
	t.Cleanup(func() { _ = data.Close() })
	r := registryStore(t, data)
	if got := r.Views(); !reflect.DeepEqual(got, views) {
		t.Errorf("views after reopen:\n got %+v\nwant %+v", got, views)
	}
	if got := r.Entities(); !reflect.DeepEqual(got, entities) {
		t.Errorf("entities after reopen:\n got %+v\nwant %+v", got, entities)
	}
	if p, _ := r.View("profile"); p.ID != 1 || p.SchemaVersion != 2 {
		t.Errorf("profile after reopen: ID %d, version %d; want 1, 2", p.ID, p.SchemaVersion)
	}
	next, _ := mustApplyView(t, r, View{Name: "later", Entity: "customer", Fields: []Field{{Name: "a", Type: Bool}}})
	if next.ID != 3 {
		t.Errorf("first ID after reopen = %d, want 3 (IDs are never reused)", next.ID)
	}
}

func TestConcurrentAppliesAssignUniqueIDsWhileReadersRead(t *testing.T) {
	t.Parallel()
	s := registryStore(t, memKV(t))
	mustApplyEntity(t, s, customer)
	mustApplyView(t, s, profileView(Field{Name: "a", Type: Int64}))
	const n = 32
	var wg sync.WaitGroup
	ids := make([]uint32, n)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if v, e, err := s.lookup("profile"); err != nil || v.Name != "profile" || e.Name != "customer" {
					t.Errorf("lookup during applies = %v, %v, %v", v, e, err)
					return
				}
				_ = s.Views()
			}
		})
	}
	for i := range n {
		wg.Go(func() {
			v, _, err := s.ApplyView(View{Name: fmt.Sprintf("v%02d", i), Entity: "customer", Fields: []Field{{Name: "a", Type: Bool}}})
			if err != nil {
				t.Errorf("ApplyView v%02d: %v", i, err)
				return
			}
			ids[i] = v.ID
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	slices.Sort(ids)
	for i, id := range ids {
		if id != uint32(i+2) {
			t.Fatalf("sorted IDs = %v, want 2..%d each once", ids, n+1)
		}
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	t.Parallel()
	s := registryStore(t, memKV(t))
	mustApplyEntity(t, s, customer)
	in := profileView(Field{Name: "a", Type: Float64, Tags: []string{"pii"}, Bounds: []float64{0, 1}})
	out, _ := mustApplyView(t, s, in)
	in.Fields[0].Tags[0], out.Fields[0].Tags[0] = "changed_in", "changed_out"
	v, _ := s.View("profile")
	v.Fields[0].Bounds[0] = 99
	s.Views()[0].Fields[0].Tags[0] = "changed_views"

	got, _ := s.View("profile")
	if tag, b := got.Fields[0].Tags[0], got.Fields[0].Bounds[0]; tag != "pii" || b != 0 {
		t.Errorf("after callers edited their copies: tag %q, bound %v; want pii, 0", tag, b)
	}
}

// Not parallel: AllocsPerRun refuses to run beside parallel tests.
func TestLookupReadsTheSnapshotWithoutAllocating(t *testing.T) {
	s := registryStore(t, memKV(t))
	mustApplyEntity(t, s, customer)
	mustApplyView(t, s, profileView(Field{Name: "a", Type: Int64}))
	v, e, err := s.lookup("profile")
	if err != nil || v.Name != "profile" || e.Name != "customer" {
		t.Fatalf("lookup = %v, %v, %v", v, e, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _, _ = s.lookup("profile") }); allocs != 0 {
		t.Errorf("lookup allocates %v times, want 0", allocs)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"lookup", func() error { _, _, err := s.lookup("nope"); return err }(), `view "nope" does not exist; apply a spec that defines it`},
		{"View", func() error { _, err := s.View("nope"); return err }(), `view "nope" does not exist; apply a spec that defines it`},
		{"Entity", func() error { _, err := s.Entity("nope"); return err }(), `entity "nope" does not exist; apply a spec that defines it`},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, ErrNotFound) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s(nope) error = %v, want ErrNotFound containing %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestLoadRegistryRefusesInconsistentRecords(t *testing.T) {
	t.Parallel()
	goodEntity := `{"name":"customer","join_key":"customer_id","key_type":1}`
	goodView := `{"name":"profile","id":1,"entity":"customer","schema_version":1,"fields":[{"name":"a","type":2}]}`
	tests := []struct {
		name    string
		records map[string]string
		want    string
	}{
		{"entity not JSON", map[string]string{"m/entity/customer": "{"}, `"m/entity/customer"`},
		{"entity under another name", map[string]string{"m/entity/other": goodEntity}, `names entity "customer"`},
		{"entity key type unknown", map[string]string{"m/entity/customer": `{"name":"customer","join_key":"c","key_type":7}`}, "unknown key type"},
		{"view of a missing entity", map[string]string{"m/seq/view": "\x00\x00\x00\x01", "m/view/profile": goodView}, `entity "customer" does not exist`},
		{"view ID beyond the sequence", map[string]string{"m/entity/customer": goodEntity, "m/view/profile": goodView}, "outside the assigned range"},
		{"short sequence", map[string]string{"m/entity/customer": goodEntity, "m/seq/view": "\x01"}, "not 4"},
		{"duplicate view ID", map[string]string{
			"m/entity/customer": goodEntity, "m/seq/view": "\x00\x00\x00\x02", "m/view/profile": goodView,
			"m/view/second": strings.Replace(goodView, `"profile"`, `"second"`, 1)}, "is also view"},
		{"unknown field type", map[string]string{"m/entity/customer": goodEntity, "m/seq/view": "\x00\x00\x00\x01",
			"m/view/profile": strings.Replace(goodView, `"type":2`, `"type":77`, 1)}, "unknown type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := memKV(t)
			var ops []kv.Op
			for k, v := range tc.records {
				ops = append(ops, kv.Op{Key: []byte(k), Value: []byte(v)})
			}
			if err := data.Apply(ops); err != nil {
				t.Fatal(err)
			}
			err := (&Store{data: data}).loadRegistry()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "restore") {
				t.Errorf("loadRegistry error = %v, want ErrCorrupt containing %q and what to do", err, tc.want)
			}
		})
	}
}
