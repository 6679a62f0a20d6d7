package arrowio_test

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/internal/fuzzcorpus"
	"github.com/featurevault/featurevault/store"
)

// csvReasons are every reason a CSVProblem gives: fixed texts, so a
// problem never quotes the cell it is about.
var csvReasons = []string{
	"not a bool; write true or false",
	"not a decimal int64",
	"not a number",
	"not standard base64",
	"not a time; write RFC 3339 such as 2026-11-01T00:00:00Z",
	"time outside 1677-09-21..2262-04-11",
	"not a JSON array of numbers such as [0.25, -1.5]",
}

const csvHeader = "customer_id,event_timestamp,active,age,income,email,avatar,signup,embedding\n"

// FuzzCSVReader reads arbitrary text as a CSV file of view profile, in
// batches of 3 rows. Properties: no panic; memory bounded by the input;
// batches add up to Rows() and never exceed 3 rows; each problem is
// inside the file, names a header column and gives one of the fixed
// reasons (never the cell); when the header fits, every batch decodes
// under the Decoder's contract.
func FuzzCSVReader(f *testing.F) {
	fuzzcorpus.Add(f, csvHeader+"c-1,2026-11-01T00:00:00Z,true,41,52000.5,a@example.com,AAH/,2024-02-29 12:30:00,\"[0.25, -1.5]\"\n")
	fuzzcorpus.Add(f, csvHeader+"c-2,2026-11-01,,,,,,,[]\nc-3,yesterday,maybe,forty,x,ok,!!,2024-13-01,[a]\n")
	fuzzcorpus.Add(f, "\ufeffcustomer_id,event_timestamp,email\n\"c,4\",1677-09-21 00:12:43.145224191,\"multi\nline \"\"q\"\"\"\n")
	fuzzcorpus.Add(f, "customer_id,event_timestamp,height\nc-1,2026-01-01,3\n")
	fuzzcorpus.Add(f, "customer_id,event_timestamp\nc-1,2026-01-01,extra\n")
	fuzzcorpus.Add(f, "customer_id,customer_id,event_timestamp\na,b,2026-01-01\n")
	fuzzcorpus.Add(f, "")
	v, e := specView(f, "profile")
	f.Fuzz(func(t *testing.T, data string) {
		before := heapAllocated()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		r, err := arrowio.NewCSVReader(strings.NewReader(data), v, e, mem, 3)
		if err != nil {
			checkErrorPrefix(t, err)
			return
		}
		defer r.Release()
		header := make([]string, r.Schema().NumFields())
		for i, col := range r.Schema().Fields() {
			header[i] = col.Name
		}
		d, decErr := arrowio.NewDecoder(r.Schema(), v, e)
		var rows int64
		for r.Next() {
			rec := r.RecordBatch()
			if n := rec.NumRows(); n < 1 || n > 3 || int(rec.NumCols()) != len(header) {
				t.Fatalf("batch of %d rows and %d columns; want 1 to 3 rows of %d columns", n, rec.NumCols(), len(header))
			}
			if decErr == nil {
				got, kept, refused := d.Decode(rec, rows, nil)
				checkDecoded(t, v, d, int(rec.NumRows()), rows, got, kept, refused)
			}
			rows += rec.NumRows()
		}
		if err := r.Err(); err != nil {
			checkErrorPrefix(t, err)
		}
		if rows != r.Rows() {
			t.Errorf("batches hold %d rows, Rows() = %d", rows, r.Rows())
		}
		problems, _ := r.Problems()
		for _, p := range problems {
			if p.Row < 0 || p.Row >= r.Rows() || p.Line < 1 || !slices.Contains(header, p.Column) || !slices.Contains(csvReasons, p.Reason) {
				t.Errorf("problem %+v: outside the %d rows, not a header column, or an unknown reason", p, r.Rows())
			}
		}
		checkAllocs(t, before, 0, len(data))
	})
}

// FuzzCSVRoundTrip writes one row of view profile as a CSV file the way
// the CSVReader documents (encoding/csv quoting, base64 bytes, RFC 3339
// times, JSON lists) and checks it reads back equal, an empty string or
// empty bytes being NULL as documented. Text with a carriage return is
// skipped: CSV itself turns "\r\n" inside a quoted cell into "\n".
func FuzzCSVRoundTrip(f *testing.F) {
	for _, r := range sampleProfileRows() {
		fuzzcorpus.Add(f, r.key, r.at, r.active, r.age, r.income, r.email, r.avatar, r.signup, float32Bytes(r.embedding))
	}
	fuzzcorpus.Add(f, "c,\"4\"", int64(1), true, int64(-1), 1e-300, " lead\nline", []byte{0xff}, int64(-1), []byte{})
	v, e := specView(f, "profile")
	f.Fuzz(func(t *testing.T, key string, at int64, active bool, age int64, income float64, email string, avatar []byte, signup int64, emb []byte) {
		if key == "" || strings.ContainsRune(key+email, '\r') {
			t.Skip("an empty key is a NULL key; CSV turns \\r\\n into \\n")
		}
		list := bytesFloat32(emb)
		for i, x := range list {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				list[i] = 0 // JSON has no NaN or infinities
			}
		}
		listJSON, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		ts := func(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
		if err := w.Write([]string{key, ts(at), strconv.FormatBool(active), strconv.FormatInt(age, 10),
			strconv.FormatFloat(income, 'g', -1, 64), email, base64.StdEncoding.EncodeToString(avatar), ts(signup), string(listJSON)}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		r, err := arrowio.NewCSVReader(strings.NewReader(csvHeader+buf.String()), v, e, mem, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		d, err := arrowio.NewDecoder(r.Schema(), v, e)
		if err != nil {
			t.Fatal(err)
		}
		var got []store.Row
		for r.Next() {
			rows, _, refused := d.Decode(r.RecordBatch(), 0, nil)
			if len(refused) > 0 {
				t.Fatalf("refused %+v", refused)
			}
			got = append(got, rows...)
		}
		if err := r.Err(); err != nil {
			t.Fatalf("CSV %q: %v", buf.String(), err)
		}
		if p, _ := r.Problems(); len(p) > 0 {
			t.Fatalf("CSV %q: problems %+v", buf.String(), p)
		}
		vals := map[string]any{"active": active, "age": age, "income": income, "signup": time.Unix(0, signup).UTC(), "embedding": list}
		if email != "" {
			vals["email"] = email
		}
		if len(avatar) > 0 {
			vals["avatar"] = avatar
		}
		want := []store.Row{{EntityKey: key, EventTime: time.Unix(0, at).UTC(), Values: vals}}
		if !sameRows(got, want) {
			t.Errorf("CSV %q read back\n got %+v\nwant %+v", buf.String(), got, want)
		}
	})
}
