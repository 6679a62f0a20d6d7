package arrowio_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/store"
)

func TestSchemaOfAView(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	v, e := viewOf(t, s, "profile")
	schema, err := arrowio.ViewSchema(v, e)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range schema.Fields() {
		got = append(got, f.Name+":"+f.Type.String())
	}
	want := []string{
		"customer_id:utf8", "event_timestamp:timestamp[ns, tz=UTC]", "active:bool", "age:int64",
		"income:float64", "email:utf8", "avatar:binary", "signup:timestamp[ns, tz=UTC]", "embedding:list<item: float32, nullable>",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("schema columns\n%v\nwant\n%v", got, want)
	}
	if tags, _ := schema.Field(4).Metadata.GetValue(arrowio.MetaTags); tags != "pii,sensitive" {
		t.Errorf("income tags metadata = %q, want pii,sensitive", tags)
	}
	if view, _ := schema.Metadata().GetValue(arrowio.MetaView); view != "profile" {
		t.Errorf("schema view metadata = %q", view)
	}
}

// TestEncodeDecodeRoundTripEveryType writes rows, reads them as Arrow
// through the encoder, decodes that Arrow back into rows, and checks every
// value survived, with no Arrow memory leaked.
func TestEncodeDecodeRoundTripEveryType(t *testing.T) {
	t.Parallel()
	mem := checked(t)
	s := openStore(t)
	want := sampleRows(13)
	if _, err := s.Write(t.Context(), "profile", want); err != nil {
		t.Fatal(err)
	}
	v, e := viewOf(t, s, "profile")
	schema, recs := scanRecords(t, s, mem, "profile", store.ScanOptions{BatchRows: 5})
	defer releaseAll(recs)
	if len(recs) != 3 {
		t.Errorf("%d record batches of 5 rows for 13 rows, want 3", len(recs))
	}
	got := decodeAll(t, v, e, schema, recs)
	if g, w := normalize(got), normalize(want); !reflect.DeepEqual(g, w) {
		t.Errorf("round trip:\n%v\nwant\n%v", g, w)
	}
}

func TestEncodeInt64Keys(t *testing.T) {
	t.Parallel()
	mem := checked(t)
	s := openStore(t)
	rows := []store.Row{{EntityKey: "-7", EventTime: time.Unix(1, 0), Values: map[string]any{"bid": 1.5}}, {EntityKey: "0042", EventTime: time.Unix(2, 0)}}
	if _, err := s.Write(t.Context(), "quotes", rows); err != nil {
		t.Fatal(err)
	}
	_, recs := scanRecords(t, s, mem, "quotes", store.ScanOptions{})
	defer releaseAll(recs)
	keys := recs[0].Column(0).(*array.Int64).Int64Values()
	if got := []int64{min(keys[0], keys[1]), max(keys[0], keys[1])}; !reflect.DeepEqual(got, []int64{-7, 42}) {
		t.Errorf("int64 keys = %v, want -7 and 42", keys)
	}
}

// TestIPCMessagesConcatenateToAStream checks the framing the API uses: a
// schema message, batch messages and the end marker, concatenated, read by
// a plain ipc.Reader.
func TestIPCMessagesConcatenateToAStream(t *testing.T) {
	t.Parallel()
	mem := checked(t)
	s := openStore(t)
	if _, err := s.Write(t.Context(), "profile", sampleRows(10)); err != nil {
		t.Fatal(err)
	}
	schema, recs := scanRecords(t, s, mem, "profile", store.ScanOptions{BatchRows: 4})
	defer releaseAll(recs)
	msg, err := arrowio.SchemaMessage(schema, mem)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	frames = append(frames, msg)
	for _, rec := range recs {
		b, err := arrowio.BatchMessage(nil, rec, mem)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
	frames = append(frames, arrowio.EndOfStream)
	next := 0
	r, err := ipc.NewReader(arrowio.NewChunkReader(func() ([]byte, error) {
		if next == len(frames) {
			return nil, errors.New("read past the end marker")
		}
		next++
		return frames[next-1], nil
	}), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Schema().Equal(schema) {
		t.Errorf("stream schema %v, want %v", r.Schema(), schema)
	}
	i := 0
	for r.Next() {
		if !array.RecordEqual(r.RecordBatch(), recs[i]) {
			t.Errorf("batch %d differs after the round trip", i)
		}
		i++
	}
	if r.Err() != nil || i != len(recs) {
		t.Errorf("read %d batches (err %v), want %d", i, r.Err(), len(recs))
	}
}

func TestNewDecoderListsEverySchemaProblem(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	v, e := viewOf(t, s, "profile")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "age", Type: arrow.BinaryTypes.String},
		{Name: "height", Type: arrow.PrimitiveTypes.Float64},
		{Name: "embedding", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)},
		{Name: "income", Type: arrow.PrimitiveTypes.Float32},
		{Name: "__index_level_0__", Type: arrow.PrimitiveTypes.Int64}, // pandas' index: ignored
	}, nil)
	_, err := arrowio.NewDecoder(schema, v, e)
	var se *arrowio.SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *SchemaError", err)
	}
	want := []string{
		`column "age" is utf8 but field "age" is int64; cast the column to int64`,
		`column "height" is not a field of view "profile"; drop the column, or add the field to the view's spec and apply it`,
		`column "embedding" is list<item: float64, nullable> but field "embedding" is list<float32>; cast the column to list<item: float32, nullable>`,
		`no "customer_id" column: each row needs its entity key in a column named after the join key of entity "customer"`,
		`no "event_timestamp" column: each row needs an event time (a timestamp column named event_timestamp)`,
	}
	if !reflect.DeepEqual(se.Problems, want) {
		t.Errorf("problems:\n%s\nwant\n%s", strings.Join(se.Problems, "\n"), strings.Join(want, "\n"))
	}
}

// TestDecodeWidensTypesAndRefusesRowsItCannotConvert builds a table with
// the types pandas and pyarrow often produce and checks conversions and
// per-row refusals.
func TestDecodeWidensTypesAndRefusesRowsItCannotConvert(t *testing.T) {
	t.Parallel()
	mem := checked(t)
	s := openStore(t)
	v, e := viewOf(t, s, "profile")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "age", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "income", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "embedding", Type: arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Float32), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	keys := b.Field(0).(*array.LargeStringBuilder)
	keys.AppendValues([]string{"a", "b", "", "d"}, []bool{true, true, false, true})
	ts := b.Field(1).(*array.TimestampBuilder)
	ts.AppendValues([]arrow.Timestamp{1_000_000, 2_000_000, 3_000_000, 0}, []bool{true, true, true, false})
	b.Field(2).(*array.Uint64Builder).AppendValues([]uint64{41, math.MaxUint64, 1, 1}, nil)
	b.Field(3).(*array.Float32Builder).AppendValues([]float32{0.5, 1, 1, 1}, []bool{true, true, true, true})
	lb := b.Field(4).(*array.FixedSizeListBuilder)
	vb := lb.ValueBuilder().(*array.Float32Builder)
	lb.AppendValues([]bool{true, true, true, true})
	vb.AppendValues([]float32{1, 2, 0, 0, 0, 0, 0, 0}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()

	d, err := arrowio.NewDecoder(schema, v, e)
	if err != nil {
		t.Fatal(err)
	}
	rows, kept, refused := d.Decode(rec, 10, nil)
	wantRows := []store.Row{{EntityKey: "a", EventTime: time.Unix(1, 0).UTC(), Values: map[string]any{"age": int64(41), "income": 0.5, "embedding": []float32{1, 2}}}}
	if !reflect.DeepEqual(normalize(rows), normalize(wantRows)) || !reflect.DeepEqual(kept, []int{0}) {
		t.Errorf("rows %v kept %v\nwant %v kept [0]", rows, kept, wantRows)
	}
	wantRefused := []store.Refusal{
		{Row: 11, Column: "age", Reason: `field "age": the value is a uint64 above the int64 range`},
		{Row: 12, Column: "customer_id", Reason: "the entity key is null; give every row its entity key"},
		{Row: 13, Column: "event_timestamp", Reason: "event_timestamp is null; give every row an event time"},
	}
	if !reflect.DeepEqual(refused, wantRefused) {
		t.Errorf("refused %+v\nwant %+v", refused, wantRefused)
	}
}

func TestIngestBatchReportsDecoderAndStoreRefusalsTogether(t *testing.T) {
	t.Parallel()
	mem := checked(t)
	s := openStore(t)
	v, e := viewOf(t, s, "profile")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "event_timestamp", Type: arrow.FixedWidthTypes.Timestamp_ns},
		{Name: "income", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "", "c", "d"}, []bool{true, false, true, true})
	b.Field(1).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1, 2, 3, 4}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1, 2, math.NaN(), 4}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	d, err := arrowio.NewDecoder(schema, v, e)
	if err != nil {
		t.Fatal(err)
	}
	res, err := arrowio.IngestBatch(t.Context(), s, "profile", d, rec, 100, store.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RefusedRows != 2 || len(res.Refusals) != 2 || res.Refusals[0].Row != 101 || res.Refusals[1].Row != 102 || res.Refusals[1].Column != "income" {
		t.Errorf("result %+v; want rows 101 (null key) and 102 (NaN income) refused", res)
	}
	_, recs := scanRecords(t, s, mem, "profile", store.ScanOptions{})
	if len(recs) != 0 {
		releaseAll(recs)
		t.Error("a batch with refused rows wrote rows")
	}
	// Without the bad rows the batch goes in.
	good := rec.NewSlice(3, 4)
	defer good.Release()
	res, err = arrowio.IngestBatch(t.Context(), s, "profile", d, good, 0, store.IngestOptions{})
	if err != nil || res.Rows != 1 || res.Values != 1 || res.RefusedRows != 0 {
		t.Errorf("ingest of a good row = %+v, %v", res, err)
	}
}

func TestCSVReaderParsesEveryTypeAndReportsBadCells(t *testing.T) {
	t.Parallel()
	mem := checked(t)
	s := openStore(t)
	v, e := viewOf(t, s, "profile")
	csvText := "\ufeffcustomer_id,event_timestamp,active,age,income,email,avatar,signup,embedding\n" +
		"c-1,2026-11-01T00:00:00Z,true,41,52000.5,a@example.com,AAH/,2024-02-29 12:30:00,\"[0.25, -1.5]\"\n" +
		"c-2,2026-11-01,,,,,,,[]\n" +
		"c-3,yesterday,maybe,forty,x,ok,!!,2024-13-01,[a]\n"
	r, err := arrowio.NewCSVReader(strings.NewReader(csvText), v, e, mem, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var recs []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	defer releaseAll(recs)
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	problems, more := r.Problems()
	var got []string
	for _, p := range problems {
		got = append(got, p.Column+"@"+string(rune('0'+p.Line))+": "+p.Reason)
	}
	want := []string{
		"event_timestamp@4: not a time; write RFC 3339 such as 2026-11-01T00:00:00Z",
		"active@4: not a bool; write true or false",
		"age@4: not a decimal int64",
		"income@4: not a number",
		"avatar@4: not standard base64",
		"signup@4: not a time; write RFC 3339 such as 2026-11-01T00:00:00Z",
		"embedding@4: not a JSON array of numbers such as [0.25, -1.5]",
	}
	if !reflect.DeepEqual(got, want) || more != 0 {
		t.Errorf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rows := decodeAll(t, v, e, r.Schema(), recs[:1])
	wantRows := []store.Row{
		{EntityKey: "c-1", EventTime: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Values: map[string]any{
			"active": true, "age": int64(41), "income": 52000.5, "email": "a@example.com", "avatar": []byte{0, 1, 255},
			"signup": time.Date(2024, 2, 29, 12, 30, 0, 0, time.UTC), "embedding": []float32{0.25, -1.5}}},
		{EntityKey: "c-2", EventTime: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Values: map[string]any{"embedding": []float32{}}},
	}
	if !reflect.DeepEqual(normalize(rows), normalize(wantRows)) {
		t.Errorf("rows\n%v\nwant\n%v", rows, wantRows)
	}
}

func TestCSVReaderRefusesUnknownColumns(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	v, e := viewOf(t, s, "profile")
	_, err := arrowio.NewCSVReader(strings.NewReader("customer_id,event_timestamp,height\n"), v, e, memory.DefaultAllocator, 0)
	var se *arrowio.SchemaError
	if !errors.As(err, &se) || len(se.Problems) != 1 || !strings.Contains(se.Problems[0], `column "height" is not a field`) {
		t.Errorf("error %v, want a SchemaError about column height", err)
	}
	if _, err := arrowio.NewCSVReader(strings.NewReader(""), v, e, memory.DefaultAllocator, 0); err == nil || !strings.Contains(err.Error(), "needs a header line") {
		t.Errorf("empty CSV: error %v, want one asking for a header", err)
	}
}

// TestFilesRoundTrip writes the view's records as Arrow and Parquet files
// and reads them back through OpenFile, as export then ingest do.
func TestFilesRoundTrip(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	want := sampleRows(9)
	if _, err := s.Write(t.Context(), "profile", want); err != nil {
		t.Fatal(err)
	}
	v, e := viewOf(t, s, "profile")
	for _, f := range []arrowio.Format{arrowio.FormatArrow, arrowio.FormatParquet} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			mem := checked(t)
			schema, recs := scanRecords(t, s, mem, "profile", store.ScanOptions{BatchRows: 4})
			var buf bytes.Buffer
			w, err := arrowio.NewFileWriter(&buf, f, schema, mem)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				if err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
			}
			releaseAll(recs)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "out.bin")
			if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := arrowio.DetectFormat(path); got != f || err != nil {
				t.Errorf("DetectFormat = %q, %v; want %q", got, err, f)
			}
			src, err := arrowio.OpenFile(t.Context(), path, "", v, e, mem, 4)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if f == arrowio.FormatParquet && src.Rows != int64(len(want)) {
				t.Errorf("Parquet row count %d, want %d", src.Rows, len(want))
			}
			d, err := arrowio.NewDecoder(src.Schema(), v, e)
			if err != nil {
				t.Fatal(err)
			}
			var rows []store.Row
			for src.Next() {
				var refused []store.Refusal
				rows, _, refused = d.Decode(src.RecordBatch(), 0, rows)
				if len(refused) > 0 {
					t.Fatalf("refused %+v", refused)
				}
			}
			if err := src.Err(); err != nil {
				t.Fatal(err)
			}
			if g, w := normalize(rows), normalize(want); !reflect.DeepEqual(g, w) {
				t.Errorf("%s round trip:\n%v\nwant\n%v", f, g, w)
			}
		})
	}
}
