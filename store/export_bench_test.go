package store_test

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/store"
)

// exportOnce runs the server side of ReadBatches in process: scan and
// decrypt (store.Scanner), build Arrow record batches (arrowio.Encoder)
// and encode them as IPC messages, written to io.Discard. It returns the
// number of field values exported.
func exportOnce(tb testing.TB, s *store.Store, w io.Writer) int64 {
	sc, err := s.Scan(context.Background(), benchdata.View, store.ScanOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer sc.Close()
	enc, err := arrowio.NewEncoder(memory.DefaultAllocator, sc.View(), sc.Entity(), sc.Fields())
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Release()
	var buf []byte
	var values int64
	for sc.Next() {
		rec, err := enc.Encode(sc.Batch())
		if err != nil {
			tb.Fatal(err)
		}
		if buf, err = arrowio.BatchMessage(buf[:0], rec, memory.DefaultAllocator); err != nil {
			tb.Fatal(err)
		}
		values += rec.NumRows() * int64(len(sc.Fields()))
		rec.Release()
		if _, err := w.Write(buf); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return values
}

// decryptAll decrypts every value with Tink, split across workers
// goroutines: the baseline the export is measured against.
func decryptAll(tb testing.TB, raw []store.RawValue, workers int) {
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(raw)/workers, (w+1)*len(raw)/workers
		wg.Go(func() {
			for _, r := range raw[lo:hi] {
				if _, err := r.AEAD.Decrypt(r.Ciphertext, r.AAD); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkExport measures the export path (see exportOnce) over views of
// 50 float64 fields and, in the same iterations, a raw Tink decrypt loop
// over the very same ciphertexts: on one goroutine and on GOMAXPROCS
// goroutines. It reports decrypted values/s of each and the export's rate
// as a percentage of both. Two shapes: one row per entity (10,000
// entities: the most per-subject work, a key lookup and a subject record
// per row) and a time series of 10 rows per entity (2,000 entities).
func BenchmarkExport(b *testing.B) {
	for _, shape := range []struct{ entities, perEntity int }{{10_000, 1}, {2_000, 10}} {
		b.Run(fmt.Sprintf("rows-per-entity=%d", shape.perEntity), func(b *testing.B) {
			s, err := store.Open(context.Background(), store.DefaultOptions(b.TempDir()).WithLogger(quietLog).WithSyncWrites(false))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := benchdata.LoadHistory(s, shape.entities, shape.entities*shape.perEntity); err != nil {
				b.Fatal(err)
			}
			raw, err := store.RawValues(s, benchdata.View)
			if err != nil {
				b.Fatal(err)
			}
			procs := runtime.GOMAXPROCS(0)
			var exp, one, all time.Duration
			var values int64
			for b.Loop() {
				t := time.Now()
				values += exportOnce(b, s, io.Discard)
				exp += time.Since(t)
				t = time.Now()
				decryptAll(b, raw, 1)
				one += time.Since(t)
				t = time.Now()
				decryptAll(b, raw, procs)
				all += time.Since(t)
			}
			n := float64(b.N)
			if values != int64(b.N*len(raw)) {
				b.Fatalf("exported %d values, want %d", values, b.N*len(raw))
			}
			rate := func(d time.Duration) float64 { return n * float64(len(raw)) / d.Seconds() }
			b.ReportMetric(rate(exp), "export-values/s")
			b.ReportMetric(rate(one), "raw-1-goroutine-values/s")
			b.ReportMetric(rate(all), fmt.Sprintf("raw-%d-goroutines-values/s", procs))
			b.ReportMetric(100*rate(exp)/rate(one), "export-%-of-raw-1")
			b.ReportMetric(100*rate(exp)/rate(all), fmt.Sprintf("export-%%-of-raw-%d", procs))
		})
	}
}

// BenchmarkExportPeakMemory exports views of 100k and 1M rows × 50 float64
// fields (10,000 entities, each with a time series of 10 or 100 rows) and
// reports how much the heap grew at its peak during the export, sampled
// every 5 ms, above the heap before it: HeapInuse (live objects plus
// garbage awaiting collection) and runtime/metrics /gc/heap/live:bytes
// (what the last GC found reachable). A streaming export keeps both flat
// as the view grows.
//
// The store is reopened after loading and exported once unmeasured, so
// the figures show the export itself rather than the load's compactions
// and Badger's block cache filling up (to its 256 MiB bound). The measured
// exports run with GOGC=10: at the default (100) the heap may grow by as
// much as the store's own live heap (Badger's memtables and caches,
// hundreds of MiB) before the GC runs, which says nothing about the export;
// at 10 garbage is collected promptly and the peak shows what the export
// holds. The 1M case writes 50M encrypted values first (about a minute);
// -short skips it.
func BenchmarkExportPeakMemory(b *testing.B) {
	const entities = 10_000
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			if n > 100_000 && testing.Short() {
				b.Skip("-short: skipping the 1M-row load")
			}
			dir := b.TempDir()
			o := store.DefaultOptions(dir).WithLogger(quietLog).WithSyncWrites(false)
			s, err := store.Open(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			if err := benchdata.LoadHistory(s, entities, n); err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			if s, err = store.Open(context.Background(), o); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			exportOnce(b, s, io.Discard) // warm the caches
			defer debug.SetGCPercent(debug.SetGCPercent(10))
			var inuse, live, gcs, baseLive uint64
			var values int64
			for b.Loop() {
				base, peak := benchdata.PeakMemory(5*time.Millisecond, func() { values += exportOnce(b, s, io.Discard) })
				inuse = max(inuse, peak.HeapInuse-min(peak.HeapInuse, base.HeapInuse))
				live = max(live, peak.HeapLive-min(peak.HeapLive, base.HeapLive))
				gcs += peak.GCs - base.GCs
				baseLive = base.HeapLive
			}
			if values != int64(b.N*n*benchdata.Fields) {
				b.Fatalf("exported %d values, want %d", values, b.N*n*benchdata.Fields)
			}
			b.ReportMetric(float64(inuse)/(1<<20), "peak-heap-inuse-MiB")
			b.ReportMetric(float64(live)/(1<<20), "peak-heap-live-MiB")
			b.ReportMetric(float64(baseLive)/(1<<20), "base-heap-live-MiB")
			b.ReportMetric(float64(gcs)/float64(b.N), "GCs/op")
			b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
		})
	}
}
