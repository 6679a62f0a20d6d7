package rpc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/featurevault/featurevault/privacy"
	"github.com/featurevault/featurevault/store"
)

// BenchmarkAggregateMean1M computes a DP mean over 1 000 000 rows of one
// float64 column (10 000 subjects × 100 rows each), as the Aggregate RPC
// does: scan, decrypt every value, bound contributions, clamp, add noise.
// One op is the whole query.
func BenchmarkAggregateMean1M(b *testing.B) {
	const subjects, perSubject = 10_000, 100
	s, err := store.Open(context.Background(), store.DefaultOptions(b.TempDir()).WithLogger(quietLog).WithSyncWrites(false))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	spec, _ := store.ParseSpec([]byte(`
entities: [{name: user, join_key: user_id}]
feature_views:
  - {name: spend, entity: user, fields: [{name: amount, type: float64, bounds: [0, 1000]}]}
`))
	if err := s.ApplySpec(spec); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]store.Row, 0, 5000)
	for i := range subjects * perSubject {
		rows = append(rows, store.Row{EntityKey: fmt.Sprintf("u-%05d", i%subjects), EventTime: base.Add(time.Duration(i/subjects) * time.Hour), Values: map[string]any{"amount": float64(i % 1000)}})
		if len(rows) == cap(rows) {
			if _, err := s.Write(ctx, "spend", rows); err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	q := privacy.Query{Fn: privacy.Mean, Epsilon: 1, Bounds: [2]float64{0, 1000}, MaxContributions: perSubject}
	var lat time.Duration
	for b.Loop() {
		start := time.Now()
		res, err := privacy.Aggregate(q, func(emit func([]byte, float64) error) error {
			return s.ColumnValues(ctx, "spend", "amount", time.Time{}, time.Time{}, emit)
		}, privacy.DefaultOptions().WithSortedSubjects(true))
		if err != nil {
			b.Fatal(err)
		}
		if res.Value < 400 || res.Value > 600 {
			b.Fatalf("mean %g, want about 499.5", res.Value)
		}
		lat = max(lat, time.Since(start))
	}
	b.ReportMetric(float64(subjects*perSubject)/b.Elapsed().Seconds()*float64(b.N), "rows/s")
	b.ReportMetric(lat.Seconds(), "max-s/query")
}
