package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

const benchEntities = 10_000

// benchStore opens a store in a temp dir loaded with benchEntities × 50.
func benchStore(b *testing.B) *store.Store {
	b.Helper()
	s, err := store.Open(context.Background(), store.DefaultOptions(b.TempDir()).WithLogger(quietLog).WithSyncWrites(false))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := benchdata.Load(s, benchEntities); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkGetOnline measures in-process online reads of 1 and 100
// entities × 50 fields, decryption included, with p50/p99 per call.
func BenchmarkGetOnline(b *testing.B) {
	s := benchStore(b)
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("entities=%d/fields=50", n), func(b *testing.B) {
			ctx := context.Background()
			var lat benchdata.Latencies
			i := 0
			for b.Loop() {
				keys := benchdata.Keys((i*n)%(benchEntities-n), n)
				lat.Time(func() {
					res, err := s.GetOnline(ctx, benchdata.View, keys, nil)
					if err != nil || res.Rows[n-1].Statuses[0] != store.Present {
						b.Fatalf("read: %v", err)
					}
				})
				i++
			}
			lat.Report(b)
			b.ReportMetric(float64(b.N*n*benchdata.Fields)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// BenchmarkWrite measures encrypted write throughput: batches of 500 rows ×
// 50 fields to existing subjects (keys cached), one atomic commit each.
func BenchmarkWrite(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const batch = 500
	at := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	i := 0
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

// BenchmarkBytesPerValue writes 10 000 subjects × 50 float64 fields, with 1
// or 10 rows per subject, and reports what the store hands to the KV per
// value: stored-B/value (row keys and values, subject records included) and
// overhead-B/value (that minus the 8 plaintext bytes of a float64).
// disk-B/value is the size of the data directory after close, which adds
// Badger's own framing and indexes. Subject keys live in the keystore and
// are not counted here. The measurement runs once, whatever b.N.
func BenchmarkBytesPerValue(b *testing.B) {
	for _, perSubject := range []int{1, 10} {
		b.Run(fmt.Sprintf("rows-per-subject=%d", perSubject), func(b *testing.B) {
			dir := b.TempDir()
			s, err := store.Open(context.Background(), store.DefaultOptions(dir).WithLogger(quietLog).WithSyncWrites(false))
			if err != nil {
				b.Fatal(err)
			}
			if err := benchdata.Load(s, benchEntities); err != nil {
				b.Fatal(err)
			}
			at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			for r := 1; r < perSubject; r++ {
				for start := 0; start < benchEntities; start += 500 {
					rows := make([]store.Row, 500)
					for j := range rows {
						rows[j] = benchdata.Row(start+j, at.Add(time.Duration(r)*time.Hour))
					}
					if _, err := s.Write(context.Background(), benchdata.View, rows); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			db, err := kv.OpenBadger(kv.DefaultOptions(filepath.Join(dir, "data")))
			if err != nil {
				b.Fatal(err)
			}
			stored := 0
			for _, prefix := range []string{"r", "s"} {
				if err := db.Scan([]byte(prefix), func(e kv.Entry) error {
					stored += len(e.Key) + len(e.Value)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			db.Close()
			disk := dirSize(b, filepath.Join(dir, "data"))
			for b.Loop() {
			}
			values := float64(benchEntities * perSubject * benchdata.Fields)
			b.ReportMetric(float64(stored)/values, "stored-B/value")
			b.ReportMetric(float64(stored)/values-8, "overhead-B/value")
			b.ReportMetric(float64(disk)/values, "disk-B/value")
		})
	}
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
