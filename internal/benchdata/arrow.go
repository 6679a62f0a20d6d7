package benchdata

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/store"
)

// ArrowSchema is the table schema of the benchmark view, as ingest takes
// it: user_id, event_timestamp and the Fields float64 features.
func ArrowSchema() *arrow.Schema {
	cols := []arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
	}
	for f := range Fields {
		cols = append(cols, arrow.Field{Name: FieldName(f), Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	return arrow.NewSchema(cols, nil)
}

// Record returns the rows of entities start..start+n-1 at time at, the
// same values Row writes, as one record batch built in mem.
func Record(mem memory.Allocator, start, n int, at time.Time) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, ArrowSchema())
	defer b.Release()
	b.Reserve(n)
	keys := b.Field(0).(*array.StringBuilder)
	ts := b.Field(1).(*array.TimestampBuilder)
	for i := start; i < start+n; i++ {
		keys.Append(Key(i))
		ts.Append(arrow.Timestamp(at.UnixNano()))
	}
	for f := range Fields {
		fb := b.Field(2 + f).(*array.Float64Builder)
		for i := start; i < start+n; i++ {
			fb.Append(float64(i) + float64(f)/100)
		}
	}
	return b.NewRecordBatch()
}

// LoadHistory applies the spec and writes rows rows over entities
// entities: entity i%entities at minute i/entities, so each entity has a
// time series of rows/entities observations — the shape of training data.
func LoadHistory(s *store.Store, entities, rows int) error {
	spec, err := store.ParseSpec([]byte(Spec()))
	if err != nil {
		return err
	}
	if err := s.ApplySpec(spec); err != nil {
		return err
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 2000
	buf := make([]store.Row, 0, batch)
	for i := range rows {
		buf = append(buf, Row(i%entities, at.Add(time.Duration(i/entities)*time.Minute)))
		if len(buf) == batch || i == rows-1 {
			if _, err := s.Ingest(context.Background(), View, buf, store.IngestOptions{}); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}
