package store

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/featurevault/featurevault/kv"
)

// ApplyEntity creates the entity e, or updates its join-key name and
// description. Changing its key type is refused with KindConflict: every
// stored key of the entity was canonicalised, blind-indexed and bound into
// AAD under the old type. Applying an unchanged entity writes nothing.
// It returns the stored entity and whether it was created.
func (s *Store) ApplyEntity(e Entity) (Entity, bool, error) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	c := s.begin()
	out, created, err := c.entity(e)
	if err != nil {
		return Entity{}, false, err
	}
	return out, created, s.commit(c)
}

// ApplyView creates the view v, or changes it compatibly, and returns the
// stored view and what changed. v's ID and SchemaVersion are ignored: the
// store assigns them.
//
// The rules: v's entity must exist and, for an existing view, may not
// change. Every stored field must still be declared, with the same type
// (removal and type changes are refused with KindConflict, because stored
// rows encode values by position and type); new fields are appended in the
// order v declares them and SchemaVersion grows by one. Tags, bounds,
// allow_nan, constraints, descriptions and the ttl may change without a
// new version. Changed constraints apply to writes from the moment the
// apply returns, never to stored rows: tightening one leaves rows that
// break it readable. Names, types, tags, bounds, constraints and ttl are
// checked as ParseSpec checks them.
//
// A first apply gives the view SchemaVersion 1 and the next unused ID (IDs
// are never reused), and Added lists all its fields. Applying an unchanged
// view writes nothing and returns Created false and Added nil. The records are written in one atomic batch;
// on any error nothing changes.
func (s *Store) ApplyView(v View) (View, ApplyResult, error) {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	c := s.begin()
	out, res, err := c.view(v)
	if err != nil {
		return View{}, ApplyResult{}, err
	}
	return out, res, s.commit(c)
}

// ApplySpec applies the spec's entities and then its views, by the rules of
// ApplyEntity and ApplyView, as one atomic batch: either the whole spec is
// applied or, on the first error, none of it. A view's entity may be defined
// earlier in the same spec. Re-applying an unchanged spec writes nothing.
func (s *Store) ApplySpec(spec *Spec) error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	c := s.begin()
	for _, e := range spec.Entities {
		if _, _, err := c.entity(e); err != nil {
			return err
		}
	}
	for _, v := range spec.Views {
		if _, _, err := c.view(v); err != nil {
			return err
		}
	}
	return s.commit(c)
}

// change is an apply in progress: a private copy of the registry that the
// apply edits, and the names whose records it must write. The caller holds
// regMu from begin to commit.
type change struct {
	next     *registry
	entities map[string]bool
	views    map[string]bool
	seq      bool
}

func (s *Store) begin() *change {
	return &change{next: s.snapshot().clone(), entities: map[string]bool{}, views: map[string]bool{}}
}

// commit writes the changed records in one batch and then publishes the new
// snapshot. Nothing is written or published for an empty change.
func (s *Store) commit(c *change) error {
	if len(c.entities) == 0 && len(c.views) == 0 && !c.seq {
		return nil
	}
	var ops []kv.Op
	for _, name := range sortedKeys(c.entities) {
		b, err := encodeEntity(c.next.entities[name])
		if err != nil {
			return fmt.Errorf("store: encode entity %q: %w", name, err)
		}
		ops = append(ops, kv.Op{Key: entityKey(name), Value: b})
	}
	for _, name := range sortedKeys(c.views) {
		b, err := encodeView(c.next.views[name])
		if err != nil {
			return fmt.Errorf("store: encode view %q: %w", name, err)
		}
		ops = append(ops, kv.Op{Key: viewKey(name), Value: b})
	}
	if c.seq {
		ops = append(ops, kv.Op{Key: []byte(viewSeqKey), Value: encodeSeq(c.next.lastViewID)})
	}
	if err := s.data.Apply(ops); err != nil {
		return fmt.Errorf("store: write registry: %w", err)
	}
	s.reg.Store(c.next)
	return nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *change) entity(e Entity) (Entity, bool, error) {
	if err := validateEntity(&e); err != nil {
		return Entity{}, false, within("entity "+quoteName(e.Name), err)
	}
	old := c.next.entities[e.Name]
	if old != nil {
		if old.KeyType != e.KeyType {
			return Entity{}, false, errorf(KindConflict,
				"entity %q has %s keys and cannot change to %s: its stored keys are indexed and encrypted by their %s form; define a new entity instead",
				e.Name, old.KeyType, e.KeyType, old.KeyType)
		}
		if *old == e {
			return e, false, nil
		}
	}
	c.next.entities[e.Name] = &e
	c.entities[e.Name] = true
	return e, old == nil, nil
}

func (c *change) view(in View) (View, ApplyResult, error) {
	v := cloneView(&in)
	v.ID, v.SchemaVersion = 0, 0
	at := "view " + quoteName(v.Name)
	if err := validateView(&v); err != nil {
		return View{}, ApplyResult{}, within(at, err)
	}
	if c.next.entities[v.Entity] == nil {
		return View{}, ApplyResult{}, errorf(KindNotFound,
			"%s: entity %q does not exist; define it under entities in the spec, or apply it first", at, v.Entity)
	}
	old := c.next.views[v.Name]
	if old == nil {
		if c.next.lastViewID == math.MaxUint32 {
			return View{}, ApplyResult{}, errorf(KindConflict, "%s: every view ID has been used", at)
		}
		c.next.lastViewID++
		v.ID, v.SchemaVersion = c.next.lastViewID, 1
		c.seq = true
		c.next.setView(&v)
		c.views[v.Name] = true
		return cloneView(&v), ApplyResult{Created: true, Added: fieldNames(v.Fields)}, nil
	}
	merged, added, err := merge(old, &v)
	if err != nil {
		return View{}, ApplyResult{}, within(at, err)
	}
	if reflect.DeepEqual(&merged, old) {
		return cloneView(old), ApplyResult{}, nil
	}
	c.next.setView(&merged)
	c.views[v.Name] = true
	return cloneView(&merged), ApplyResult{Added: added}, nil
}

// merge applies the compatible changes of v to the stored view old: stored
// fields keep their positions and types and take v's tags, bounds,
// allow_nan, constraints and description; fields new in v are appended in
// v's order.
func merge(old, v *View) (View, []string, error) {
	if v.Entity != old.Entity {
		return View{}, nil, errorf(KindConflict,
			"its entity is %q and cannot change to %q: its rows are keyed and encrypted per %s; define a new view instead",
			old.Entity, v.Entity, old.Entity)
	}
	next := View{Name: old.Name, Entity: old.Entity, TTL: v.TTL, Description: v.Description,
		SchemaVersion: old.SchemaVersion, ID: old.ID, Fields: make([]Field, 0, len(v.Fields))}
	var removed []string
	for _, of := range old.Fields {
		nf, _, ok := v.Field(of.Name)
		if !ok {
			removed = append(removed, fmt.Sprintf("%q", of.Name))
			continue
		}
		if nf.Type != of.Type {
			return View{}, nil, errorf(KindConflict,
				"field %q is %s and cannot change to %s: stored rows hold %s values; add a field with a new name instead",
				of.Name, of.Type, nf.Type, of.Type)
		}
		next.Fields = append(next.Fields, nf)
	}
	switch len(removed) {
	case 0:
	case 1:
		return View{}, nil, errorf(KindConflict,
			"field %s cannot be removed: stored rows still hold its values; declare it again (it may stay unused)", removed[0])
	default:
		return View{}, nil, errorf(KindConflict,
			"fields %s cannot be removed: stored rows still hold their values; declare them again (they may stay unused)",
			strings.Join(removed, ", "))
	}
	var added []string
	for _, nf := range v.Fields {
		if _, _, ok := old.Field(nf.Name); !ok {
			next.Fields = append(next.Fields, nf)
			added = append(added, nf.Name)
		}
	}
	if len(added) > 0 {
		if next.SchemaVersion == math.MaxUint32 {
			return View{}, nil, errorf(KindConflict, "its schema version cannot grow further")
		}
		next.SchemaVersion++
	}
	return next, added, nil
}

func fieldNames(fs []Field) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return names
}
