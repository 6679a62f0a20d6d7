package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/store"
)

// syncModes are the ways the data directory can meet the disk: group
// commit (the default: a write waits for a shared fsync, reads never
// wait), per-commit sync (each commit is synced before it is visible, so
// reads started meanwhile wait for the fsync), and no sync (acknowledged
// before the disk has it: the upper bound).
var syncModes = []struct {
	name string
	opts func(store.Options) store.Options
}{
	{"group-commit", func(o store.Options) store.Options { return o.WithSyncWrites(true) }},
	{"per-commit", func(o store.Options) store.Options { return o.WithSyncWrites(true).WithGroupCommit(false) }},
	{"no-sync", func(o store.Options) store.Options { return o.WithSyncWrites(false) }},
}

// syncModeBenchStore opens an on-disk store in mode, loaded with
// benchEntities × 50 (loaded without sync, then reopened in mode).
func syncModeBenchStore(b *testing.B, mode func(store.Options) store.Options) *store.Store {
	b.Helper()
	dir := b.TempDir()
	s, err := store.Open(context.Background(), store.DefaultOptions(dir).WithLogger(quietLog).WithSyncWrites(false))
	if err != nil {
		b.Fatal(err)
	}
	if err := benchdata.Load(s, benchEntities); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	if s, err = store.Open(context.Background(), mode(store.DefaultOptions(dir).WithLogger(quietLog))); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkWriteDurable measures in-process write throughput from 8
// concurrent writers, batches of 500 rows × 50 fields to existing subjects,
// in each sync mode. Each Write returns once its rows are as durable as
// the mode makes them. In-process: no network, no protobuf.
func BenchmarkWriteDurable(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			s := syncModeBenchStore(b, m.opts)
			const writers, batch = 8, 500
			var next atomic.Int64
			at := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
			b.SetParallelism((writers + 1) / 2) // GOMAXPROCS 2 on the machine the figures come from
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1))
					rows := make([]store.Row, batch)
					for j := range rows {
						rows[j] = benchdata.Row((i*batch+j)%benchEntities, at.Add(time.Duration(i)*time.Second))
					}
					if _, err := s.Write(context.Background(), benchdata.View, rows); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*batch*benchdata.Fields)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// besideWritesPerSecond is the rate of BenchmarkGetOnlineBesideWrites'
// writer: the same in every mode, so that only how writes meet the disk
// differs.
const besideWritesPerSecond = 50

// BenchmarkGetOnlineBesideWrites measures in-process 1×50 online reads
// (p50/p99/max per read) while a writer commits a 10-row batch 50 times a
// second, in each sync mode: with per-commit sync a read that starts
// during a commit waits for that commit's fsync; with group commit it
// does not.
func BenchmarkGetOnlineBesideWrites(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			s := syncModeBenchStore(b, m.opts)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var writes atomic.Int64
			at := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
			wg.Go(func() {
				tick := time.NewTicker(time.Second / besideWritesPerSecond)
				defer tick.Stop()
				for i := 0; ctx.Err() == nil; i++ {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					rows := make([]store.Row, 10)
					for j := range rows {
						rows[j] = benchdata.Row((i*10+j)%benchEntities, at.Add(time.Duration(i)*time.Millisecond))
					}
					if _, err := s.Write(ctx, benchdata.View, rows); err != nil && ctx.Err() == nil {
						b.Error(err)
						return
					}
					writes.Add(1)
				}
			})
			var lat benchdata.Latencies
			i := 0
			for b.Loop() {
				keys := benchdata.Keys((i*7919)%benchEntities, 1)
				lat.Time(func() {
					res, err := s.GetOnline(ctx, benchdata.View, keys, nil)
					if err != nil || res.Rows[0].Statuses[0] != store.Present {
						b.Fatalf("read: %v", err)
					}
				})
				i++
			}
			elapsed := b.Elapsed().Seconds()
			cancel()
			wg.Wait()
			lat.Report(b)
			b.ReportMetric(float64(writes.Load())/elapsed, "writes/s")
		})
	}
}
