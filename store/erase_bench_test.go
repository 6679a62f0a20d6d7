package store_test

import (
	"context"
	"testing"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/store"
)

// durableBenchStore opens a store with synchronous writes (the production
// default: every erasure is on disk when Erase returns) loaded with n
// subjects of the benchmark view (one row of 50 fields each).
func durableBenchStore(b *testing.B, n int) *store.Store {
	b.Helper()
	s, err := store.Open(context.Background(), store.DefaultOptions(b.TempDir()).WithLogger(quietLog))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := benchdata.Load(s, n); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkEraseOneSubject measures the latency of erasing one subject
// (key destroyed, row and subject record deleted, both synced to disk),
// one Erase call per subject, with p50/p99.
func BenchmarkEraseOneSubject(b *testing.B) {
	const subjects = 20_000
	s := durableBenchStore(b, subjects)
	ctx := context.Background()
	var lat benchdata.Latencies
	i := 0
	for b.Loop() {
		if i == subjects {
			b.Fatalf("more than %d iterations: run with -benchtime=Nx, N <= %d", subjects, subjects)
		}
		keys := []string{benchdata.Key(i)}
		lat.Time(func() {
			r, err := s.Erase(ctx, "user", keys, store.EraseOptions{})
			if err != nil || !r[0].KeyDestroyed || r[0].Rows != 1 {
				b.Fatalf("erase: %+v, %v", r, err)
			}
		})
		i++
	}
	lat.Report(b)
}

// BenchmarkErase10000Subjects measures one Erase call of 10,000 subjects
// (the most one call takes) on a store that holds 20,000.
func BenchmarkErase10000Subjects(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s := durableBenchStore(b, 2*n)
		keys := benchdata.Keys(n/2, n)
		b.StartTimer()
		r, err := s.Erase(ctx, "user", keys, store.EraseOptions{Suppress: true})
		if err != nil || len(r) != n || !r[n-1].KeyDestroyed {
			b.Fatalf("erase: %v", err)
		}
		b.StopTimer()
		if res, err := s.GetOnline(ctx, benchdata.View, benchdata.Keys(0, 1), []string{"f00"}); err != nil || res.Rows[0].Statuses[0] != store.Present {
			b.Fatalf("a subject outside the erasure is gone: %v", err)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "subjects/s")
}
