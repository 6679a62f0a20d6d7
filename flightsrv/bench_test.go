package flightsrv_test

import (
	"errors"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/benchdata"
)

// BenchmarkDoGetBesideReadBatches reads a 100k rows × 50 float64 view
// (10,000 entities × 10 rows) from one server, as the bootstrap admin,
// over loopback: Flight DoGet with arrow-go's Flight client, and
// ReadBatches with the Go client, in the same run, so that the two
// figures (decrypted values/s) compare on the same machine load. Server
// and client share the cores.
//
//	go test -run '^$' -bench DoGetBesideReadBatches -benchtime 5x ./flightsrv/
func BenchmarkDoGetBesideReadBatches(b *testing.B) {
	be, dir := openBackend(b, benchdata.Spec())
	if err := benchdata.LoadHistory(be.Store, 10_000, 100_000); err != nil {
		b.Fatal(err)
	}
	addr, admin := serve(b, be, dir)
	const want = 100_000 * benchdata.Fields
	b.Run("FlightDoGet", func(b *testing.B) {
		fc, err := flight.NewClientWithMiddleware(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer fc.Close()
		ctx := as(b.Context(), admin, "training")
		tk := &flight.Ticket{Ticket: []byte(`{"view": "` + benchdata.View + `"}`)}
		var values int64
		for b.Loop() {
			stream, err := fc.DoGet(ctx, tk)
			if err != nil {
				b.Fatal(err)
			}
			rd, err := flight.NewRecordReader(stream)
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			for rd.Next() {
				n += rd.RecordBatch().NumRows() * int64(rd.RecordBatch().NumCols()-2)
			}
			if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
			rd.Release()
			if n != want {
				b.Fatalf("read %d values, want %d", n, want)
			}
			values += n
		}
		b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
	})
	b.Run("ReadBatches", func(b *testing.B) {
		c := client.New(nil, "http://"+addr, client.WithToken(admin), client.WithPurpose("training"))
		var values int64
		for b.Loop() {
			r, err := c.ReadBatches(b.Context(), benchdata.View, client.Read{})
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			for r.Next() {
				n += r.RecordBatch().NumRows() * int64(r.RecordBatch().NumCols()-2)
			}
			if err := r.Err(); err != nil {
				b.Fatal(err)
			}
			r.Release()
			if n != want {
				b.Fatalf("read %d values, want %d", n, want)
			}
			values += n
		}
		b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
	})
}
