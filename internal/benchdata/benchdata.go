// Package benchdata builds the synthetic views and rows that benchmarks and
// the load generator share, so that every figure in BENCHMARKS.md is
// measured on the same shape of data: an entity with a string key and a view
// of 50 float64 features, the common case of a numeric model input.
package benchdata

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/featurevault/featurevault/store"
)

// Fields is the number of features in the benchmark view.
const Fields = 50

// View is the name of the benchmark view; its entity is "user".
const View = "bench"

// Spec returns the YAML spec of the benchmark entity and view.
func Spec() string {
	var b strings.Builder
	b.WriteString("entities:\n  - {name: user, join_key: user_id, type: string}\nfeature_views:\n  - name: bench\n    entity: user\n    fields:\n")
	for i := range Fields {
		fmt.Fprintf(&b, "      - {name: %s, type: float64}\n", FieldName(i))
	}
	return b.String()
}

// FieldName is the name of the i-th benchmark feature.
func FieldName(i int) string { return fmt.Sprintf("f%02d", i) }

// Key is the entity key of the i-th benchmark entity.
func Key(i int) string { return fmt.Sprintf("user-%08d", i) }

// Row returns the row of entity i: every feature set to a value derived
// from i, so reads can be checked.
func Row(i int, at time.Time) store.Row {
	vals := make(map[string]any, Fields)
	for f := range Fields {
		vals[FieldName(f)] = float64(i) + float64(f)/100
	}
	return store.Row{EntityKey: Key(i), EventTime: at, Values: vals}
}

// Load applies the spec and writes n entities, one row each, in batches.
func Load(s *store.Store, n int) error {
	spec, err := store.ParseSpec([]byte(Spec()))
	if err != nil {
		return err
	}
	if err := s.ApplySpec(spec); err != nil {
		return err
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const batch = 500
	rows := make([]store.Row, 0, batch)
	for i := range n {
		rows = append(rows, Row(i, at))
		if len(rows) == batch || i == n-1 {
			if _, err := s.Write(context.Background(), View, rows); err != nil {
				return err
			}
			rows = rows[:0]
		}
	}
	return nil
}

// Keys returns the keys of entities start..start+n-1.
func Keys(start, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = Key(start + i)
	}
	return out
}
