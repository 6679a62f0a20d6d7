package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/store"
)

// BenchmarkWriteConstraints measures what constraints cost a write:
// BenchmarkWrite's batches of 500 rows × 50 float64 fields, first on the
// view as it is, then with every field required and within [min, max].
func BenchmarkWriteConstraints(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const batch = 500
	at := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	i := 0
	run := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows := make([]store.Row, batch)
			for j := range rows {
				rows[j] = benchdata.Row((i*batch+j)%benchEntities, at.Add(time.Duration(i)*time.Second))
			}
			if _, err := s.Write(ctx, benchdata.View, rows); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N*batch*benchdata.Fields)/b.Elapsed().Seconds(), "values/s")
	}
	b.Run("none", run)
	v, err := s.View(benchdata.View)
	if err != nil {
		b.Fatal(err)
	}
	for f := range v.Fields {
		v.Fields[f].Constraints = store.Constraints{Required: true, Min: new(0.0), Max: new(1e9)}
	}
	if _, _, err := s.ApplyView(v); err != nil {
		b.Fatal(err)
	}
	b.Run("required_min_max_every_field", run)
}
