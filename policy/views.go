package policy

import (
	"maps"
	"slices"
	"strings"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// FieldRef names one column of a view and the tags the view spec gives it.
type FieldRef struct {
	Name string
	Tags []string
}

// FieldRefs returns the FieldRefs of every field of v, in view order: the
// argument SyncView, Decide and Explain want for a whole view.
func FieldRefs(v *store.View) []FieldRef {
	out := make([]FieldRef, len(v.Fields))
	for i, f := range v.Fields {
		out[i] = FieldRef{Name: f.Name, Tags: f.Tags}
	}
	return out
}

// viewFields is what the policy knows of a view's columns: the g2 links
// SyncView registered, in the order it was given. It is immutable once
// published; SyncView replaces it.
type viewFields struct {
	names []string
	tags  [][]string // sorted, without duplicates
	index map[string]int
}

func newViewFields(names []string, tags [][]string) *viewFields {
	vf := &viewFields{names: names, tags: tags, index: make(map[string]int, len(names))}
	for i, n := range names {
		vf.index[n] = i
	}
	return vf
}

// links returns the g2 rules of the view: each column belongs to VIEW.* and
// to tag:TAG for each of its tags.
func (vf *viewFields) links(view string) map[string][]string {
	out := map[string][]string{}
	if vf == nil {
		return out
	}
	for i, f := range vf.names {
		obj := fieldObject(view, f)
		l := []string{obj, viewObject(view)}
		out[strings.Join(l, ",")] = l
		for _, t := range vf.tags[i] {
			l := []string{obj, tagObject(t)}
			out[strings.Join(l, ",")] = l
		}
	}
	return out
}

// viewsFromGroups rebuilds the per-view field sets from loaded g2 rules
// (which checkRule has validated).
func viewsFromGroups(groups [][]string) map[string]*viewFields {
	tags := map[string]map[string][]string{}
	for _, g := range groups {
		view, field, _ := strings.Cut(g[0], ".")
		if tags[view] == nil {
			tags[view] = map[string][]string{}
		}
		t := tags[view][field]
		if tag, ok := strings.CutPrefix(g[1], "tag:"); ok {
			t = append(t, tag)
		}
		tags[view][field] = t
	}
	out := make(map[string]*viewFields, len(tags))
	for view, fields := range tags {
		names := slices.Sorted(maps.Keys(fields))
		ts := make([][]string, len(names))
		for i, n := range names {
			ts[i] = sortedSet(fields[n])
		}
		out[view] = newViewFields(names, ts)
	}
	return out
}

// SyncView registers a view's columns and their tags as Casbin resource
// groups (g2): each column "VIEW.FIELD" joins "VIEW.*" and "tag:TAG" for
// each of its tags, so that rules on a view or a tag cover it without any
// pattern matching in the model. fields is the view's complete field list;
// links of fields not listed are removed.
//
// Call it whenever a view is applied and, at start, for every view in the
// registry. Until it has run for a view, Decide and Explain refuse that
// view's columns with ErrViewNotSynced (fail closed): a column whose tags the
// policy does not know could escape a tag rule such as a deny on tag:pii.
// A sync that changes links starts a new policy version.
func (e *Engine) SyncView(view string, fields []FieldRef) error {
	if err := validName(kindView, view); err != nil {
		return err
	}
	names := make([]string, len(fields))
	tags := make([][]string, len(fields))
	seen := make(map[string]bool, len(fields))
	for i, f := range fields {
		if err := validName(kindField, f.Name); err != nil {
			return withContext(err, "view %s", quote(view))
		}
		if seen[f.Name] {
			return nameErrorf("view %s lists field %s twice", quote(view), quote(f.Name))
		}
		seen[f.Name] = true
		for _, t := range f.Tags {
			if err := validName(kindTag, t); err != nil {
				return withContext(err, "view %s field %s", quote(view), quote(f.Name))
			}
		}
		names[i] = f.Name
		tags[i] = sortedSet(slices.Clone(f.Tags))
	}
	next := newViewFields(names, tags)

	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.RLock()
	cur := e.views[view]
	e.mu.RUnlock()
	want, have := next.links(view), cur.links(view)
	var ops []kv.Op
	var adds, removes []rulePart
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if _, ok := have[k]; !ok {
			op, err := ruleSetOp(ptypeGroup, want[k])
			if err != nil {
				return err
			}
			ops = append(ops, op)
			adds = append(adds, rulePart{ptypeGroup, want[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[k]; !ok {
			ops = append(ops, ruleDeleteOp(ptypeGroup, have[k]))
			removes = append(removes, rulePart{ptypeGroup, have[k]})
		}
	}
	if len(ops) == 0 {
		// Same links, perhaps a new field order: decisions are unchanged,
		// so publish the order (Decide's fast path) without a new version.
		e.mu.Lock()
		e.views[view] = next
		e.mu.Unlock()
		return nil
	}
	return e.commit(ops, func() error {
		e.views[view] = next
		if err := e.removeRulesLocked(removes); err != nil {
			return err
		}
		return e.addRulesLocked(adds)
	})
}
