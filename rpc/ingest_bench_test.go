package rpc

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/store"
)

// ingestEntities is how many distinct entities the ingest benchmarks
// cycle through: their keys stay in the keyring's cache, as in a steady
// stream of new observations of known entities.
const ingestEntities = 10_000

// ingestBatchRows is the rows per atomic batch (client.DefaultIngestBatchRows).
const ingestBatchRows = client.DefaultIngestBatchRows

// benchRecords builds n record batches of the benchmark view, each
// ingestBatchRows rows × 50 float64 fields, with fresh event times so
// every row is new.
func benchRecords(n int, at time.Time) []arrow.RecordBatch {
	recs := make([]arrow.RecordBatch, n)
	for i := range recs {
		start := (i * ingestBatchRows) % (ingestEntities - ingestBatchRows)
		recs[i] = benchdata.Record(memory.DefaultAllocator, start, ingestBatchRows, at.Add(time.Duration(i)*time.Second))
	}
	return recs
}

// BenchmarkIngestArrow measures bulk ingest of Arrow record batches into
// the benchmark view (50 float64 fields), in values written per second:
//
//   - in-process: arrowio.IngestBatch straight into the store (decode,
//     validate, encrypt in parallel, one atomic commit per batch);
//   - rpc: the Go client's IngestArrow over loopback HTTP, IPC encoding
//     and the server's IPC decoding included, with writes synced to disk
//     (the server default) and not.
func BenchmarkIngestArrow(b *testing.B) {
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	b.Run("in-process", func(b *testing.B) {
		env := newArrowEnvWith(b, false, benchdata.Spec(), nil)
		v, _ := env.store.View(benchdata.View)
		e, _ := env.store.Entity(v.Entity)
		dec, err := arrowio.NewDecoder(benchdata.ArrowSchema(), v, e)
		if err != nil {
			b.Fatal(err)
		}
		warm(b, env)
		recs := benchRecords(64, at)
		var values int64
		i := 0
		for b.Loop() {
			res, err := arrowio.IngestBatch(b.Context(), env.store, benchdata.View, dec, recs[i%len(recs)], 0, store.IngestOptions{})
			if err != nil || res.RefusedRows > 0 {
				b.Fatalf("ingest: %+v, %v", res, err)
			}
			values += int64(res.Values)
			i++
			if i%len(recs) == 0 { // new event times for the next round
				for _, r := range recs {
					r.Release()
				}
				recs = benchRecords(64, at.Add(time.Duration(i)*time.Second))
			}
		}
		b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
	})
	for _, synced := range []bool{true, false} {
		b.Run(fmt.Sprintf("rpc/sync=%v", synced), func(b *testing.B) {
			env := newArrowEnvWith(b, synced, benchdata.Spec(), nil)
			warm(b, env)
			c := client.New(nil, env.url) // Go allocator: no leak checks in the timed path
			const perCall = 32            // batches per IngestArrow call
			var values int64
			round := 0
			for b.Loop() {
				b.StopTimer()
				recs := benchRecords(perCall, at.Add(time.Duration(round*perCall)*time.Second))
				rdr, err := array.NewRecordReader(benchdata.ArrowSchema(), recs)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := c.IngestArrow(b.Context(), benchdata.View, rdr, client.Ingest{})
				if err != nil {
					b.Fatal(err)
				}
				values += res.ValuesWritten
				rdr.Release()
				for _, r := range recs {
					r.Release()
				}
				round++
			}
			b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
			b.ReportMetric(float64(values)/float64(b.N), "values/op")
		})
	}
}

// warm writes one row of every benchmark entity, so their keys exist and
// are cached, as for a stream of new observations of known entities.
func warm(b *testing.B, env *arrowEnv) {
	b.Helper()
	for start := 0; start < ingestEntities; start += 500 {
		rows := make([]store.Row, 500)
		for j := range rows {
			rows[j] = benchdata.Row(start+j, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		}
		if _, err := env.store.Write(b.Context(), benchdata.View, rows); err != nil {
			b.Fatal(err)
		}
	}
}
