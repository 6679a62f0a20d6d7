package store

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPrepareRows isolates what constraints add to a write's CPU:
// checking 500 rows × 50 float64 fields (types, then constraints), without
// encryption or the KV, on a view without constraints and on one where
// every field is required and within [min, max].
func BenchmarkPrepareRows(b *testing.B) {
	const fields, batch = 50, 500
	plain := View{Name: "bench", Entity: "user"}
	for f := range fields {
		plain.Fields = append(plain.Fields, Field{Name: fmt.Sprintf("f%02d", f), Type: Float64})
	}
	constrained := cloneView(&plain)
	for f := range constrained.Fields {
		constrained.Fields[f].Constraints = Constraints{Required: true, Min: new(0.0), Max: new(1e9)}
	}
	ent := &Entity{Name: "user", JoinKey: "user_id", KeyType: KeyString}
	rows := make([]Row, batch)
	for i := range rows {
		vals := make(map[string]any, fields)
		for f := range fields {
			vals[fmt.Sprintf("f%02d", f)] = float64(i) + float64(f)/100
		}
		rows[i] = Row{EntityKey: fmt.Sprintf("user-%08d", i), Values: vals}
	}
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		v    *View
	}{{"none", &plain}, {"required_min_max_every_field", &constrained}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			rules := compileRules(bc.v)
			out := make([]preparedRow, batch)
			for b.Loop() {
				p := newRowPreparer(bc.v, ent, rules, now)
				for i := range rows {
					if pr := p.prepare(&rows[i], &out[i]); pr != nil {
						b.Fatal(pr.msg)
					}
				}
			}
			b.ReportMetric(float64(b.N*batch*fields)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// BenchmarkConstraintCheck measures the check alone: one row of 50
// float64 values, every field required and within [min, max].
func BenchmarkConstraintCheck(b *testing.B) {
	v := View{Name: "bench"}
	vals := make([]any, 50)
	for f := range vals {
		v.Fields = append(v.Fields, Field{Name: fmt.Sprintf("f%02d", f), Type: Float64,
			Constraints: Constraints{Required: true, Min: new(0.0), Max: new(1e9)}})
		vals[f] = float64(f) + 0.5
	}
	rules := compileRules(&v)
	b.ReportAllocs()
	for b.Loop() {
		if pr := rules.check(vals); pr != nil {
			b.Fatal(pr.msg)
		}
	}
}
