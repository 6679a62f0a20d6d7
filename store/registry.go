package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/featurevault/featurevault/kv"
)

// registry is an immutable snapshot of the entities and views. Readers load
// the current one from Store.reg without locking; an apply builds a new one
// under Store.regMu and publishes it only after its records are committed.
// Nothing reachable from a published registry is ever modified: accessors
// hand out copies, and lookup hands out pointers its callers must not write
// through.
type registry struct {
	entities   map[string]*Entity
	views      map[string]*View
	rules      map[string]*viewRules // compiled constraints by view name; absent: none
	lastViewID uint32                // the highest view ID ever assigned; IDs are never reused
}

func emptyRegistry() *registry {
	return &registry{entities: map[string]*Entity{}, views: map[string]*View{}, rules: map[string]*viewRules{}}
}

// setView adds or replaces the view v, with its compiled constraints.
func (r *registry) setView(v *View) {
	r.views[v.Name] = v
	if rules := compileRules(v); rules != nil {
		r.rules[v.Name] = rules
	} else {
		delete(r.rules, v.Name)
	}
}

// clone copies the maps, sharing the (immutable) entities and views.
func (r *registry) clone() *registry {
	c := &registry{
		entities:   make(map[string]*Entity, len(r.entities)+1),
		views:      make(map[string]*View, len(r.views)+1),
		rules:      make(map[string]*viewRules, len(r.rules)+1),
		lastViewID: r.lastViewID,
	}
	for k, v := range r.entities {
		c.entities[k] = v
	}
	for k, v := range r.views {
		c.views[k] = v
	}
	for k, v := range r.rules {
		c.rules[k] = v
	}
	return c
}

// snapshot returns the current registry; never nil.
func (s *Store) snapshot() *registry {
	if r := s.reg.Load(); r != nil {
		return r
	}
	return emptyRegistry()
}

// loadRegistry reads every entity and view record and the view-ID sequence
// from the data KV and publishes them as the current snapshot. New calls it
// once before the store serves. A record that does not decode, or that
// contradicts another (a view of a missing entity, a duplicate or
// out-of-sequence ID), is reported as KindCorrupt: the store refuses to
// guess what its rows mean.
func (s *Store) loadRegistry() error {
	r := emptyRegistry()
	err := s.data.Scan([]byte(entityPrefix), func(en kv.Entry) error {
		name := string(en.Key[len(entityPrefix):])
		e, err := decodeEntity(en.Value)
		if err != nil {
			return corruptRecord(en.Key, err.Error())
		}
		if e.Name != name || ValidateName("entity", e.Name) != nil {
			return corruptRecord(en.Key, fmt.Sprintf("it names entity %q", e.Name))
		}
		if e.KeyType != KeyString && e.KeyType != KeyInt64 {
			return corruptRecord(en.Key, "unknown key type "+e.KeyType.String())
		}
		r.entities[name] = &e
		return nil
	})
	if err != nil {
		return err
	}
	seq, err := s.data.Get([][]byte{[]byte(viewSeqKey)})
	if err != nil {
		return fmt.Errorf("store: load registry: %w", err)
	}
	if b := seq[0]; b != nil {
		if len(b) != 4 {
			return corruptRecord([]byte(viewSeqKey), fmt.Sprintf("it is %d bytes, not 4", len(b)))
		}
		r.lastViewID = binary.BigEndian.Uint32(b)
	}
	ids := make(map[uint32]string)
	err = s.data.Scan([]byte(viewPrefix), func(en kv.Entry) error {
		name := string(en.Key[len(viewPrefix):])
		v, err := decodeView(en.Value)
		if err != nil {
			return corruptRecord(en.Key, err.Error())
		}
		if problem := checkStoredView(r, name, &v); problem != "" {
			return corruptRecord(en.Key, problem)
		}
		if other, dup := ids[v.ID]; dup {
			return corruptRecord(en.Key, fmt.Sprintf("its ID %d is also view %q's", v.ID, other))
		}
		ids[v.ID] = name
		r.setView(&v)
		return nil
	})
	if err != nil {
		return err
	}
	s.reg.Store(r)
	return nil
}

// checkStoredView checks what the row paths rely on. It is deliberately
// looser than validateView, so that a rule tightened in a later release
// never stops an existing store from opening.
func checkStoredView(r *registry, name string, v *View) string {
	switch {
	case v.Name != name || ValidateName("view", v.Name) != nil:
		return fmt.Sprintf("it names view %q", v.Name)
	case r.entities[v.Entity] == nil:
		return fmt.Sprintf("its entity %q does not exist", v.Entity)
	case v.ID == 0 || v.ID > r.lastViewID:
		return fmt.Sprintf("its ID %d is outside the assigned range 1..%d", v.ID, r.lastViewID)
	case v.SchemaVersion == 0:
		return "its schema version is 0"
	}
	seen := make(map[string]bool, len(v.Fields))
	for _, f := range v.Fields {
		if _, ok := fieldTypeNames[f.Type]; !ok || seen[f.Name] {
			return fmt.Sprintf("field %q is duplicated or of unknown type %s", f.Name, f.Type)
		}
		seen[f.Name] = true
	}
	return ""
}

func corruptRecord(key []byte, problem string) error {
	return errorf(KindCorrupt, "registry record %q is unreadable (%s); restore the data directory from a backup", key, problem)
}

// View returns the view named name: a copy, safe to modify. An unknown name
// is an error of kind KindNotFound.
func (s *Store) View(name string) (View, error) {
	v, ok := s.snapshot().views[name]
	if !ok {
		return View{}, viewNotFound(name)
	}
	return cloneView(v), nil
}

// Entity returns the entity named name. An unknown name is an error of kind
// KindNotFound.
func (s *Store) Entity(name string) (Entity, error) {
	e, ok := s.snapshot().entities[name]
	if !ok {
		return Entity{}, entityNotFound(name)
	}
	return *e, nil
}

// Views returns every view, sorted by name: copies, safe to modify.
func (s *Store) Views() []View {
	r := s.snapshot()
	out := make([]View, 0, len(r.views))
	for _, v := range r.views {
		out = append(out, cloneView(v))
	}
	slices.SortFunc(out, func(a, b View) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Entities returns every entity, sorted by name.
func (s *Store) Entities() []Entity {
	r := s.snapshot()
	out := make([]Entity, 0, len(r.entities))
	for _, e := range r.entities {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entity) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// lookup returns the view named name and its entity from one snapshot,
// without copying, locking or touching the KV: it is on every read and
// write path. The pointers are shared with concurrent readers and must
// never be written through.
func (s *Store) lookup(view string) (*View, *Entity, error) {
	if r := s.reg.Load(); r != nil {
		if v, ok := r.views[view]; ok {
			return v, r.entities[v.Entity], nil
		}
	}
	return nil, nil, viewNotFound(view)
}

// lookupWrite is lookup for the write paths: the view, its entity and its
// compiled constraints (nil: none), all from one snapshot, so a write is
// always checked against the constraints of the view it encodes for.
func (s *Store) lookupWrite(view string) (*View, *Entity, *viewRules, error) {
	if r := s.reg.Load(); r != nil {
		if v, ok := r.views[view]; ok {
			return v, r.entities[v.Entity], r.rules[view], nil
		}
	}
	return nil, nil, nil, viewNotFound(view)
}

func viewNotFound(name string) error {
	return errorf(KindNotFound, "view %s does not exist; apply a spec that defines it", quoteName(name))
}

func entityNotFound(name string) error {
	return errorf(KindNotFound, "entity %s does not exist; apply a spec that defines it", quoteName(name))
}

// cloneView deep-copies v so the copy shares no slice with the snapshot.
func cloneView(v *View) View {
	c := *v
	c.Fields = make([]Field, len(v.Fields))
	for i, f := range v.Fields {
		c.Fields[i] = cloneField(f)
	}
	return c
}

func cloneField(f Field) Field {
	f.Constraints = cloneConstraints(f.Constraints)
	f.Tags = slices.Clone(f.Tags)
	f.Bounds = slices.Clone(f.Bounds)
	f.Buckets = slices.Clone(f.Buckets)
	if len(f.Buckets) == 0 {
		f.Buckets = nil
	}
	if len(f.Tags) == 0 {
		f.Tags = nil
	}
	if len(f.Bounds) == 0 {
		f.Bounds = nil
	}
	return f
}

// cloneConstraints deep-copies c, with nil for empty lists, so that a
// copy shares nothing with the snapshot and compares equal to a decoded
// record.
func cloneConstraints(c Constraints) Constraints {
	if c.Min != nil {
		c.Min = new(*c.Min)
	}
	if c.Max != nil {
		c.Max = new(*c.Max)
	}
	c.AllowedStrings = slices.Clone(c.AllowedStrings)
	if len(c.AllowedStrings) == 0 {
		c.AllowedStrings = nil
	}
	c.AllowedInts = slices.Clone(c.AllowedInts)
	if len(c.AllowedInts) == 0 {
		c.AllowedInts = nil
	}
	return c
}
