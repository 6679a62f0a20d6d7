package rpc

import (
	"testing"

	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/benchdata"
)

// BenchmarkReadBatches measures the whole export path: ReadBatches over
// loopback HTTP into the Go client's Arrow reader, 100k rows × 50 float64
// fields (10,000 entities × 10 rows), server and client on the same cores.
func BenchmarkReadBatches(b *testing.B) {
	env := newArrowEnvWith(b, false, benchdata.Spec(), nil)
	if err := benchdata.LoadHistory(env.store, 10_000, 100_000); err != nil {
		b.Fatal(err)
	}
	c := client.New(nil, env.url)
	var values int64
	for b.Loop() {
		r, err := c.ReadBatches(b.Context(), benchdata.View, client.Read{})
		if err != nil {
			b.Fatal(err)
		}
		for r.Next() {
			values += r.RecordBatch().NumRows() * benchdata.Fields
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
		r.Release()
	}
	if values != int64(b.N)*100_000*benchdata.Fields {
		b.Fatalf("read %d values, want %d", values, int64(b.N)*100_000*benchdata.Fields)
	}
	b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
}
