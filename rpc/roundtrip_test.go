package rpc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/store"
)

// rowsRecord builds a record batch of view's table schema from rows.
func rowsRecord(t *testing.T, mem memory.Allocator, env *arrowEnv, view string, rows []store.Row) arrow.RecordBatch {
	t.Helper()
	v, err := env.store.View(view)
	if err != nil {
		t.Fatal(err)
	}
	e, err := env.store.Entity(v.Entity)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := arrowio.ViewSchema(v, e)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.StringBuilder).Append(r.EntityKey)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.EventTime.UnixNano()))
		for j, f := range v.Fields {
			fb := b.Field(2 + j)
			x, ok := r.Values[f.Name]
			if !ok || x == nil {
				fb.AppendNull()
				continue
			}
			switch x := x.(type) {
			case bool:
				fb.(*array.BooleanBuilder).Append(x)
			case int64:
				fb.(*array.Int64Builder).Append(x)
			case float64:
				fb.(*array.Float64Builder).Append(x)
			case string:
				fb.(*array.StringBuilder).Append(x)
			case []byte:
				fb.(*array.BinaryBuilder).Append(x)
			case time.Time:
				fb.(*array.TimestampBuilder).Append(arrow.Timestamp(x.UnixNano()))
			case []float32:
				lb := fb.(*array.ListBuilder)
				lb.Append(true)
				lb.ValueBuilder().(*array.Float32Builder).AppendValues(x, nil)
			}
		}
	}
	return b.NewRecordBatch()
}

// csvOf writes rows of the profile view as CSV, as a person would export
// them from a spreadsheet or pandas.
func csvOf(rows []store.Row) string {
	var b strings.Builder
	b.WriteString("customer_id,event_timestamp,active,age,income,email,avatar,signup,embedding\n")
	for _, r := range rows {
		v := r.Values
		cell := func(name string, f func(any) string) string {
			if x, ok := v[name]; ok && x != nil {
				return f(x)
			}
			return ""
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s,%q\n", r.EntityKey, r.EventTime.Format(time.RFC3339Nano),
			cell("active", func(x any) string { return fmt.Sprint(x) }),
			cell("age", func(x any) string { return fmt.Sprint(x) }),
			cell("income", func(x any) string { return fmt.Sprint(x) }),
			cell("email", func(x any) string { return x.(string) }),
			cell("avatar", func(x any) string { return base64.StdEncoding.EncodeToString(x.([]byte)) }),
			cell("signup", func(x any) string { return x.(time.Time).Format(time.RFC3339Nano) }),
			cell("embedding", func(x any) string { j, _ := json.Marshal(x); return string(j) }))
	}
	return b.String()
}

// TestIngestedFilesReadBackValueForValue writes a table as Parquet and as
// CSV, ingests each file through IngestArrow (several atomic batches), and
// checks that ReadBatches returns every value exactly as it was in the
// file.
func TestIngestedFilesReadBackValueForValue(t *testing.T) {
	t.Parallel()
	want := profileRows(2500, "rt")
	for _, format := range []arrowio.Format{arrowio.FormatParquet, arrowio.FormatCSV} {
		t.Run(string(format), func(t *testing.T) {
			t.Parallel()
			env := newArrowEnv(t, nil)
			path := filepath.Join(t.TempDir(), "rows."+string(format))
			switch format {
			case arrowio.FormatCSV:
				if err := os.WriteFile(path, []byte(csvOf(want)), 0o600); err != nil {
					t.Fatal(err)
				}
			case arrowio.FormatParquet:
				rec := rowsRecord(t, env.mem, env, "profile", want)
				var buf bytes.Buffer
				w, err := arrowio.NewFileWriter(&buf, format, rec.Schema(), env.mem)
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Write(rec); err != nil {
					t.Fatal(err)
				}
				rec.Release()
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			v, _ := env.store.View("profile")
			e, _ := env.store.Entity("customer")
			src, err := arrowio.OpenFile(t.Context(), path, "", v, e, env.mem, 700)
			if err != nil {
				t.Fatal(err)
			}
			var progress []int64
			res, err := env.client.IngestArrow(t.Context(), "profile", src, client.Ingest{BatchRows: 1000, Progress: func(n int64) { progress = append(progress, n) }})
			src.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.RowsWritten != 2500 || res.RowsRefused != 0 || res.BatchesWritten < 3 {
				t.Errorf("ingest result %+v; want 2500 rows in at least 3 batches", res)
			}
			if len(progress) == 0 || progress[len(progress)-1] != 2500 {
				t.Errorf("progress %v; want it to end at 2500", progress)
			}
			r, err := env.client.ReadBatches(t.Context(), "profile", client.Read{BatchRows: 999})
			if err != nil {
				t.Fatal(err)
			}
			got := asStoreRows(tableRows(t, r))
			r.Release()
			if !reflect.DeepEqual(got, sortRows(profileRows(2500, "rt"))) {
				for i := range got {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("first difference at row %d:\n got %v\nwant %v", i, got[i], want[i])
					}
				}
				t.Fatalf("read back %d rows, want %d", len(got), len(want))
			}
		})
	}
}

func TestIngestArrowRefusesBadRowsAndReportsEveryOne(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, nil)
	rows := profileRows(6, "bad")
	rows[4].Values["income"] = math.NaN()
	rows[5].EntityKey = strings.Repeat("k", store.MaxEntityKeyLen+1)
	rec := rowsRecord(t, env.mem, env, "profile", rows)
	defer rec.Release()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()

	// Batches of 3: the first is written, the second refused (rows 4 and 5).
	res, err := env.client.IngestArrow(t.Context(), "profile", rdr, client.Ingest{BatchRows: 3})
	var ie *client.IngestError
	if !errors.As(err, &ie) || connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("error %v; want an IngestError with InvalidArgument", err)
	}
	if res.RowsWritten != 3 || res.BatchesWritten != 1 || res.RowsRefused != 2 || res.RowsChecked != 6 {
		t.Errorf("result %+v; want 3 rows written in 1 batch, 2 of 6 refused", res)
	}
	var got []string
	for _, r := range res.Refusals {
		got = append(got, fmt.Sprintf("%d %s", r.Row, r.Column))
	}
	if !reflect.DeepEqual(got, []string{"4 income", "5 customer_id"}) {
		t.Errorf("refusals %v; want row 4 income and row 5 customer_id", got)
	}
	if msg := err.Error(); !strings.Contains(msg, "2 of 6 rows refused") || !strings.Contains(msg, "row 4 column income: field \"income\" refuses NaN") || strings.Contains(msg, "kkkk") {
		t.Errorf("message %q; want the count and the first refusals, and never the key", msg)
	}
	r, err := env.client.ReadBatches(t.Context(), "profile", client.Read{Features: []string{"age"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tableRows(t, r)); n != 3 {
		t.Errorf("the view holds %d rows; want the 3 of the first batch", n)
	}
	r.Release()
}

func TestIngestArrowValidateOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, nil)
	rec := rowsRecord(t, env.mem, env, "profile", profileRows(5, "v"))
	defer rec.Release()
	rdr, _ := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	defer rdr.Release()
	res, err := env.client.IngestArrow(t.Context(), "profile", rdr, client.Ingest{ValidateOnly: true})
	if err != nil || res.RowsChecked != 5 || res.RowsWritten != 0 {
		t.Fatalf("validate only: %+v, %v; want 5 rows checked, none written", res, err)
	}
	sc, _ := env.store.Scan(t.Context(), "profile", store.ScanOptions{})
	defer sc.Close()
	if sc.Next() {
		t.Error("validate only wrote rows")
	}
}

func TestIngestArrowRefusesASchemaThatDoesNotFitOrIsDenied(t *testing.T) {
	t.Parallel()
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "age", Type: arrow.BinaryTypes.String},
		{Name: "email", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.StringBuilder).Append("c-1")
	b.Field(1).(*array.StringBuilder).Append("41")
	b.Field(2).(*array.StringBuilder).Append("a@example.com")
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	env := newArrowEnv(t, nil)
	rdr, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	_, err := env.client.IngestArrow(t.Context(), "profile", rdr, client.Ingest{})
	rdr.Release()
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), `column "age" is utf8 but field "age" is int64`) || !strings.Contains(err.Error(), `no "event_timestamp" column`) {
		t.Errorf("error %v; want InvalidArgument listing the age type and the missing event_timestamp", err)
	}

	good := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: arrow.FixedWidthTypes.Timestamp_ns},
		{Name: "email", Type: arrow.BinaryTypes.String},
	}, nil)
	b = array.NewRecordBuilder(mem, good)
	b.Field(0).(*array.StringBuilder).Append("c-1")
	b.Field(1).(*array.TimestampBuilder).Append(1)
	b.Field(2).(*array.StringBuilder).Append("a@example.com")
	rec2 := b.NewRecordBatch()
	b.Release()
	defer rec2.Release()
	denying := newArrowEnv(t, denyFields("email"))
	rdr, _ = array.NewRecordReader(good, []arrow.RecordBatch{rec2})
	defer rdr.Release()
	_, err = denying.client.IngestArrow(t.Context(), "profile", rdr, client.Ingest{})
	if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "email") {
		t.Errorf("error %v; want PermissionDenied naming email", err)
	}
	if a := denying.lastAccess(t); a.Action != actionWrite || len(a.Denied) != 1 || a.Rows != 0 {
		t.Errorf("recorded %+v; want a denied write of no rows", a)
	}
}
