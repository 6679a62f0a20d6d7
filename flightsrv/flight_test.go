package flightsrv_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/featurevault/featurevault/flightsrv"
	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

var quietLog = slog.New(slog.DiscardHandler)

const spec = `
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: age,    type: int64, min: 0, max: 150}
      - {name: income, type: float64, tags: [pii]}
      - {name: email,  type: string,  tags: [pii]}
`

// env is a FeatureVault server with Flight mounted, on a loopback port.
type env struct {
	b      *rpc.Backend
	client flight.Client
	admin  string // the bootstrap admin's token
	ana    string // analyst: reads profile.* but pii, purposes analytics|training
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, opts ...rpc.Option) *env {
	t.Helper()
	b, dir := openBackend(t, spec)
	ctx := t.Context()
	var rows []store.Row
	for i, k := range []string{"c-1", "c-2", "c-3"} {
		for d := range 3 { // three days of rows per customer: age grows by one a day
			rows = append(rows, store.Row{EntityKey: k, EventTime: t0.Add(time.Duration(d) * 24 * time.Hour),
				Values: map[string]any{"age": int64(20 + 10*i + d), "income": float64(1000 * (i + 1)), "email": k + "@example.com"}})
		}
	}
	if _, err := b.Store.Write(ctx, "profile", rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range []policy.Rule{
		{Role: "analyst", Action: policy.ActionRead, Object: "profile.*"},
		{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii", Deny: true},
	} {
		if err := b.Policy.Grant(r); err != nil {
			t.Fatal(err)
		}
	}
	ana, err := b.Policy.CreatePrincipal("ana", []string{"analyst"}, map[string][]string{"purpose": {"analytics", "training"}})
	if err != nil {
		t.Fatal(err)
	}
	addr, admin := serve(t, b, dir, append([]rpc.Option{rpc.WithMaxIngestBatchBytes(64 << 10)}, opts...)...)
	client, err := flight.NewClientWithMiddleware(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return &env{b: b, client: client, admin: admin, ana: ana}
}

// openBackend opens a backend in a temporary directory with the views of
// specYAML applied.
func openBackend(tb testing.TB, specYAML string) (*rpc.Backend, string) {
	tb.Helper()
	dir := tb.TempDir()
	b, err := rpc.OpenBackend(tb.Context(), dir, store.DefaultOptions(dir).WithLogger(quietLog).WithSyncWrites(false), quietLog)
	if err != nil {
		tb.Fatal(err)
	}
	sp, err := store.ParseSpec([]byte(specYAML))
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.Store.ApplySpec(sp); err != nil {
		tb.Fatal(err)
	}
	for _, v := range b.Store.Views() {
		if err := b.Policy.SyncView(v.Name, policy.FieldRefs(&v)); err != nil {
			tb.Fatal(err)
		}
	}
	return b, dir
}

// serve serves b with Flight mounted, as featurevault serve does, on a
// loopback port until the test ends (then closes b), and returns the
// address and the bootstrap admin's token.
func serve(tb testing.TB, b *rpc.Backend, dir string, opts ...rpc.Option) (addr, admin string) {
	tb.Helper()
	tok, err := os.ReadFile(filepath.Join(dir, rpc.AdminTokenFile))
	if err != nil {
		tb.Fatal(err)
	}
	srv := rpc.NewServer(b, append([]rpc.Option{rpc.WithLogger(quietLog)}, opts...)...)
	srv.Mount(flightsrv.Prefix, flightsrv.New(srv, flightsrv.WithLogger(quietLog), flightsrv.WithMaxBatchBytes(64<<10)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
		if err := b.Close(); err != nil {
			tb.Errorf("close backend: %v", err)
		}
	})
	return ln.Addr().String(), strings.TrimSpace(string(tok))
}

// as returns ctx carrying a call's headers: token, purpose, then
// further key/value pairs.
func as(ctx context.Context, token, purpose string, kv ...string) context.Context {
	md := metadata.Pairs("featurevault-purpose", purpose)
	if token != "" {
		md.Append("authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		md.Append(kv[i], kv[i+1])
	}
	return metadata.NewOutgoingContext(ctx, md)
}

func ticket(t *testing.T, cmd any) *flight.Ticket {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &flight.Ticket{Ticket: b}
}

// doGet reads a whole DoGet answer into a table, or returns its error.
func doGet(ctx context.Context, c flight.Client, tk *flight.Ticket) (arrow.Table, []byte, error) {
	stream, err := c.DoGet(ctx, tk)
	if err != nil {
		return nil, nil, err
	}
	rd, err := flight.NewRecordReader(stream)
	if err != nil {
		return nil, nil, err
	}
	defer rd.Release()
	var recs []arrow.RecordBatch
	var md []byte
	for rd.Next() {
		if m := rd.LatestAppMetadata(); m != nil && md == nil {
			md = slices.Clone(m)
		}
		r := rd.RecordBatch()
		r.Retain()
		recs = append(recs, r)
	}
	if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return array.NewTableFromRecords(rd.Schema(), recs), md, nil
}

func columnNames(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		out = append(out, f.Name)
	}
	return out
}

func wantCode(t *testing.T, err error, code codes.Code, msgPart string) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != code || !strings.Contains(st.Message(), msgPart) {
		t.Fatalf("got error %v, want %s containing %q", err, code, msgPart)
	}
}

func TestDoGetAppliesColumnPolicyTimesAndAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t.Context(), e.ana, "training")
	tests := []struct {
		name     string
		cmd      map[string]any
		wantRows int64
		wantAges []int64
	}{
		{"all rows", map[string]any{"view": "profile"}, 9, nil},
		{"time range", map[string]any{"view": "profile", "start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-03T00:00:00Z"}, 3, []int64{21, 31, 41}},
		{"latest as of", map[string]any{"view": "profile", "as_of": "2026-01-02T12:00:00Z", "features": []string{"age"}}, 3, []int64{21, 31, 41}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl, md, err := doGet(ctx, e.client, ticket(t, tc.cmd))
			if err != nil {
				t.Fatal(err)
			}
			defer tbl.Release()
			if got := columnNames(tbl.Schema()); !slices.Equal(got, []string{"customer_id", "event_timestamp", "age"}) {
				t.Errorf("columns = %v, want the key, the time and age only (pii denied)", got)
			}
			if tbl.NumRows() != tc.wantRows {
				t.Errorf("rows = %d, want %d", tbl.NumRows(), tc.wantRows)
			}
			if tc.wantAges != nil {
				var ages []int64
				for _, ch := range tbl.Column(2).Data().Chunks() {
					ages = append(ages, ch.(*array.Int64).Int64Values()...)
				}
				slices.Sort(ages)
				if !slices.Equal(ages, tc.wantAges) {
					t.Errorf("ages = %v, want %v", ages, tc.wantAges)
				}
			}
			if _, asked := tc.cmd["features"]; !asked && !strings.Contains(string(md), `"income"`) {
				t.Errorf("app_metadata = %s, want the denied features named", md)
			}
		})
	}
	recs, err := e.b.Audit.Tail(t.Context(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var reads int
	for _, r := range recs {
		if r.Procedure == flightsrv.Prefix+"DoGet" && r.Principal == "ana" && r.Action == "read" && r.Purpose == "training" {
			reads++
			if slices.Contains(r.Allowed, "income") {
				t.Errorf("audit record allows income: %+v", r)
			}
		}
	}
	if reads != len(tests) {
		t.Errorf("audit has %d Flight DoGet read records of ana, want %d", reads, len(tests))
	}
}

func TestDoGetRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bg := t.Context()
	view := ticket(t, map[string]any{"view": "profile"})
	tests := []struct {
		name string
		ctx  context.Context
		tk   *flight.Ticket
		code codes.Code
		msg  string
	}{
		{"no token", as(bg, "", "training"), view, codes.Unauthenticated, "no bearer token"},
		{"bad token", as(bg, "fvt_nope", "training"), view, codes.Unauthenticated, "not valid"},
		{"no purpose", as(bg, e.ana, ""), view, codes.InvalidArgument, "states no purpose"},
		{"purpose not in attributes", as(bg, e.ana, "marketing"), view, codes.PermissionDenied, "marketing"},
		{"strict with a denied column", as(bg, e.ana, "training", "featurevault-strict", "true"), view, codes.PermissionDenied, "income"},
		{"unknown view", as(bg, e.ana, "training"), ticket(t, map[string]any{"view": "nope"}), codes.NotFound, "nope"},
		{"not JSON", as(bg, e.ana, "training"), &flight.Ticket{Ticket: []byte("profile")}, codes.InvalidArgument, "not a FeatureVault JSON command"},
		{"empty", as(bg, e.ana, "training"), &flight.Ticket{}, codes.InvalidArgument, "empty"},
		{"unknown key", as(bg, e.ana, "training"), ticket(t, map[string]any{"view": "profile", "colums": []string{"age"}}), codes.InvalidArgument, "colums"},
		{"two kinds", as(bg, e.ana, "training"), ticket(t, map[string]any{"view": "profile", "ingest": "profile"}), codes.InvalidArgument, "exactly one"},
		{"join ticket", as(bg, e.ana, "training"), ticket(t, map[string]any{"join": []string{"profile:age"}}), codes.InvalidArgument, "without entity_rows"},
		{"join rows not columns", as(bg, e.ana, "training"), ticket(t, map[string]any{"join": []string{"profile:age"}, "entity_rows": []string{"c-1"}}), codes.InvalidArgument, "object of columns"},
		{"join rows without timestamps", as(bg, e.ana, "training"), ticket(t, map[string]any{"join": []string{"profile:age"}, "entity_rows": map[string]any{"customer_id": []string{"c-1"}}}), codes.InvalidArgument, "event_timestamp"},
		{"bad time", as(bg, e.ana, "training"), ticket(t, map[string]any{"view": "profile", "as_of": "yesterday"}), codes.InvalidArgument, "RFC 3339"},
		{"as_of with end_time", as(bg, e.ana, "training"), ticket(t, map[string]any{"view": "profile", "as_of": "2026-01-02T00:00:00Z", "end_time": "2026-01-03T00:00:00Z"}), codes.InvalidArgument, "end time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl, _, err := doGet(tc.ctx, e.client, tc.tk)
			if tbl != nil {
				tbl.Release()
			}
			wantCode(t, err, tc.code, tc.msg)
		})
	}
}

func TestRevocationAppliesToTheNextCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t.Context(), e.ana, "training")
	tk := ticket(t, map[string]any{"view": "profile"})
	tbl, _, err := doGet(ctx, e.client, tk)
	if err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	tbl.Release()
	if err := e.b.Policy.RevokePrincipal("ana"); err != nil {
		t.Fatal(err)
	}
	_, _, err = doGet(ctx, e.client, tk)
	wantCode(t, err, codes.Unauthenticated, "revoked")
}

func TestListFlightsAndFlightInfoOmitDeniedColumns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t.Context(), e.ana, "training")
	ls, err := e.client.ListFlights(ctx, &flight.Criteria{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		fi, err := ls.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, fi.FlightDescriptor.Path...)
		s, err := flight.DeserializeSchema(fi.Schema, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		if got := columnNames(s); !slices.Equal(got, []string{"customer_id", "event_timestamp", "age"}) {
			t.Errorf("listed schema columns = %v, want no pii column", got)
		}
	}
	if !slices.Equal(names, []string{"profile"}) {
		t.Errorf("listed views = %v, want [profile]", names)
	}
	desc := &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"view": "profile", "features": ["age"]}`)}
	fi, err := e.client.GetFlightInfo(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	tbl, _, err := doGet(ctx, e.client, fi.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if tbl.NumRows() != 9 || tbl.NumCols() != 3 {
		t.Errorf("the FlightInfo's ticket read %d rows × %d columns, want 9 × 3", tbl.NumRows(), tbl.NumCols())
	}
	sr, err := e.client.GetSchema(as(t.Context(), e.admin, "training"), &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"profile"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := flight.DeserializeSchema(sr.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got := columnNames(s); !slices.Equal(got, []string{"customer_id", "event_timestamp", "age", "income", "email"}) {
		t.Errorf("admin's schema = %v, want every column", got)
	}
	_, err = e.client.GetFlightInfo(as(t.Context(), e.ana, "training", "featurevault-strict", "true"), &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"profile"}})
	wantCode(t, err, codes.PermissionDenied, "income")
}

// labels is a label table: customer, timestamp, label.
func labels(keys []string, at []time.Time) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, k := range keys {
		b.Field(0).(*array.StringBuilder).Append(k)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at[i].UnixMicro()))
		b.Field(2).(*array.Int64Builder).Append(int64(i))
	}
	return b.NewRecordBatch()
}

func TestDoExchangeJoinsPointInTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t.Context(), e.ana, "training")
	stream, err := e.client.DoExchange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(labels(nil, nil).Schema()))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"join": ["profile:age", "profile:income"]}`)})
	// Two label batches: the answer comes in input order.
	for _, rec := range []arrow.RecordBatch{
		labels([]string{"c-1", "c-2"}, []time.Time{t0.Add(36 * time.Hour), t0.Add(time.Hour)}),
		labels([]string{"c-3", "c-9"}, []time.Time{t0.Add(72 * time.Hour), t0}),
	} {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	rd, err := flight.NewRecordReader(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if got := columnNames(rd.Schema()); !slices.Equal(got, []string{"customer_id", "event_timestamp", "label", "age"}) {
		t.Errorf("joined columns = %v, want the labels and age (income denied)", got)
	}
	var ages []string
	for rd.Next() {
		col := rd.RecordBatch().Column(3).(*array.Int64)
		for i := range col.Len() {
			if col.IsNull(i) {
				ages = append(ages, "null")
			} else {
				ages = append(ages, col.ValueStr(i))
			}
		}
	}
	if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	// c-1 at day 1.5 sees day 1 (21); c-2 at hour 1 sees day 0 (30);
	// c-3 at day 3 sees day 2 (42); c-9 has no rows.
	if want := []string{"21", "30", "42", "null"}; !slices.Equal(ages, want) {
		t.Errorf("ages = %v, want %v", ages, want)
	}
	recs, err := e.b.Audit.Tail(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var joins int
	for _, r := range recs {
		if r.Procedure == flightsrv.Prefix+"DoExchange" && r.Principal == "ana" && r.Action == "read" {
			joins++
			if !slices.Equal(r.Denied, []string{"income"}) {
				t.Errorf("join audit record denies %v, want [income]", r.Denied)
			}
		}
	}
	if joins != 2 { // one per label batch
		t.Errorf("audit has %d DoExchange read records, want 2", joins)
	}
}

// doPut ingests recs into view and returns the PutResult's metadata.
func doPut(ctx context.Context, c flight.Client, cmd string, recs ...arrow.RecordBatch) ([]byte, error) {
	stream, err := c.DoPut(ctx)
	if err != nil {
		return nil, err
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(recs[0].Schema()))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(cmd)})
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			break // the server refused; Recv says why
		}
	}
	_ = w.Close()
	_ = stream.CloseSend()
	var md []byte
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return md, nil
		}
		if err != nil {
			return nil, err
		}
		md = res.AppMetadata
	}
}

func rowsOf(t *testing.T, e *env) int64 {
	t.Helper()
	tbl, _, err := doGet(as(t.Context(), e.admin, "training"), e.client, ticket(t, map[string]any{"view": "profile"}))
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	return tbl.NumRows()
}

func profileRows(n int, age int64, pad int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "age", Type: arrow.PrimitiveTypes.Int64},
		{Name: "email", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.StringBuilder).Append("n-" + string(rune('a'+i%26)))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(t0.Add(time.Duration(i+10) * 24 * time.Hour).UnixNano()))
		b.Field(2).(*array.Int64Builder).Append(age)
		b.Field(3).(*array.StringBuilder).Append(strings.Repeat("x", pad))
	}
	return b.NewRecordBatch()
}

func TestDoPutIngestsAndRefusesBadBatchesWritingNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t.Context(), e.admin, "ingestion")
	before := rowsOf(t, e)
	wrongType := func() arrow.RecordBatch {
		schema := arrow.NewSchema([]arrow.Field{
			{Name: "customer_id", Type: arrow.BinaryTypes.String},
			{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
			{Name: "age", Type: arrow.BinaryTypes.String},
		}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		b.Field(0).(*array.StringBuilder).Append("n-1")
		b.Field(1).(*array.TimestampBuilder).Append(0)
		b.Field(2).(*array.StringBuilder).Append("forty")
		return b.NewRecordBatch()
	}
	refusals := []struct {
		name string
		ctx  context.Context
		cmd  string
		rec  arrow.RecordBatch
		code codes.Code
		msg  string
	}{
		{"wrong type", ctx, `{"ingest": "profile"}`, wrongType(), codes.InvalidArgument, "age"},
		{"over the batch limit", ctx, `{"ingest": "profile"}`, profileRows(100, 30, 1000), codes.ResourceExhausted, "max-ingest-batch-bytes"},
		{"far over the batch limit", ctx, `{"ingest": "profile"}`, profileRows(2000, 30, 1000), codes.ResourceExhausted, "larger than max"},
		{"constraint", ctx, `{"ingest": "profile"}`, profileRows(3, 200, 1), codes.InvalidArgument, "above max 150"},
		{"write denied", as(t.Context(), e.ana, "training"), `{"ingest": "profile"}`, profileRows(3, 30, 1), codes.PermissionDenied, "write"},
		{"read command", ctx, `{"view": "profile"}`, profileRows(3, 30, 1), codes.InvalidArgument, "takes an ingest"},
		{"unknown view", ctx, `{"ingest": "nope"}`, profileRows(3, 30, 1), codes.NotFound, "nope"},
	}
	for _, tc := range refusals {
		_, err := doPut(tc.ctx, e.client, tc.cmd, tc.rec)
		tc.rec.Release()
		t.Run(tc.name, func(t *testing.T) { wantCode(t, err, tc.code, tc.msg) })
	}
	if got := rowsOf(t, e); got != before {
		t.Fatalf("after refused puts the view has %d rows, want %d (nothing written)", got, before)
	}
	rec := profileRows(5, 33, 8)
	defer rec.Release()
	md, err := doPut(ctx, e.client, `{"ingest": "profile"}`, rec)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		RowsWritten string `json:"rowsWritten"`
	}
	if err := json.Unmarshal(md, &res); err != nil || res.RowsWritten != "5" {
		t.Errorf("PutResult metadata = %s, want rowsWritten 5", md)
	}
	if got := rowsOf(t, e); got != before+5 {
		t.Errorf("after the put the view has %d rows, want %d", got, before+5)
	}
}

func TestStreamLimitsApplyToFlight(t *testing.T) {
	t.Parallel()
	be, dir := openBackend(t, benchdata.Spec())
	if err := benchdata.LoadHistory(be.Store, 200, 4000); err != nil {
		t.Fatal(err)
	}
	addr, admin := serve(t, be, dir, rpc.WithMaxStreamDuration(300*time.Millisecond), rpc.WithMaxStreamsPerPrincipal(1))
	c, err := flight.NewClientWithMiddleware(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := as(t.Context(), admin, "training")
	// 4,000 one-row batches: far more than the pipes and windows hold, so
	// the stream is open while the client pauses.
	stream, err := c.DoGet(ctx, ticket(t, map[string]any{"view": benchdata.View, "batch_rows": 1}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	// A second stream of the same principal is refused while this one is open.
	_, _, err = doGet(ctx, c, ticket(t, map[string]any{"view": benchdata.View}))
	wantCode(t, err, codes.ResourceExhausted, "--max-streams-per-principal")
	time.Sleep(500 * time.Millisecond)
	for err == nil || status.Code(err) == codes.ResourceExhausted {
		_, err = stream.Recv()
	}
	wantCode(t, err, codes.DeadlineExceeded, "--max-stream-duration")
}

func TestJoinInATicketWithGetFlightInfoAndDoGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t.Context(), e.ana, "training")
	cmd := []byte(`{"join": ["profile:age", "profile:income"], "full_feature_names": true,
		"entity_rows": {"customer_id": ["c-3", "c-1", null], "event_timestamp": ["2026-01-02T01:00:00Z", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"], "label": [1, 0, 1]}}`)
	fi, err := e.client.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: cmd})
	if err != nil {
		t.Fatal(err)
	}
	want, err := flight.DeserializeSchema(fi.Schema, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if got := columnNames(want); !slices.Equal(got, []string{"customer_id", "event_timestamp", "label", "profile__age"}) {
		t.Errorf("FlightInfo columns = %v, want the labels and profile__age (income denied)", got)
	}
	tbl, _, err := doGet(ctx, e.client, fi.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	if !tbl.Schema().Equal(want) {
		t.Errorf("DoGet schema\n%v\nwant the FlightInfo's\n%v", tbl.Schema(), want)
	}
	var ages []string
	for _, ch := range tbl.Column(3).Data().Chunks() {
		for i := range ch.Len() {
			ages = append(ages, ch.ValueStr(i))
		}
	}
	if w := []string{"41", "20", "(null)"}; !slices.Equal(ages, w) {
		t.Errorf("ages = %v, want %v", ages, w)
	}
}

func TestUploadsNeedAValidTokenFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, token := range []string{"", "fvt_nope"} {
		ctx := as(t.Context(), token, "training")
		ex, err := e.client.DoExchange(ctx)
		if err == nil {
			_ = ex.CloseSend() // without the check first, the server would answer "empty stream"
			_, err = ex.Recv()
		}
		wantCode(t, err, codes.Unauthenticated, "token")
		rec := profileRows(1, 30, 1)
		_, err = doPut(ctx, e.client, `{"ingest": "profile"}`, rec)
		rec.Release()
		wantCode(t, err, codes.Unauthenticated, "token")
	}
}
