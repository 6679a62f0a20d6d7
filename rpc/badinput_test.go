package rpc_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/storestate"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// Markers of the bad-input table: an entity key and feature values that
// are stored, or sent in refused requests, and must never appear in an
// error message.
const (
	markerKey    = "ent-marker-51c7e"
	markerEmail  = "val-marker-93ad@example.com"
	markerIncome = 31337.0625
	markerBytes  = "bytes-marker-d00d"
	badToken     = "fvt_bogus-marker-token-x9q"
)

// badInputFixture is a server with the test spec, an int64-keyed entity,
// one stored row of markers, principals for the auth and budget cases and a
// suppressed subject.
type badInputFixture struct {
	s *server
	// tokens of ana (aggregate for analytics, budget ε 1), bea (the same,
	// no budget), carl (the same, any purpose) and gone (revoked).
	tokens map[string]string
}

func newBadInputFixture(t *testing.T) *badInputFixture {
	t.Helper()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx := t.Context()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := s.admin.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{Name: "account", JoinKey: "account_id", KeyType: fvv1.KeyType_KEY_TYPE_INT64}}))
	must("apply entity account", err)
	row := sampleRow(markerKey)
	row.Values["email"] = strValue(markerEmail)
	row.Values["income"] = floatValue(markerIncome)
	row.Values["avatar"] = &fvv1.Value{Kind: &fvv1.Value_BytesValue{BytesValue: []byte(markerBytes)}}
	_, err = s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{row}}))
	must("write the marker row", err)
	_, err = s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: limitsView()}))
	must("apply view limits", err)
	_, err = s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule("analyst", aggregate, "profile.*", "analytics", "", false)}))
	must("grant", err)
	f := &badInputFixture{s: s, tokens: map[string]string{}}
	for _, name := range []string{"ana", "bea", "carl", "gone"} {
		req := &fvv1.CreatePrincipalRequest{Name: name, Roles: []string{"analyst"}}
		if name != "carl" {
			req.Attributes = map[string]*fvv1.StringList{"purpose": {Values: []string{"analytics"}}}
		}
		res, err := s.admin.CreatePrincipal(ctx, connect.NewRequest(req))
		must("create principal "+name, err)
		f.tokens[name] = res.Msg.Token
	}
	_, err = s.admin.SetBudget(ctx, connect.NewRequest(&fvv1.SetBudgetRequest{Principal: "ana", Epsilon: 1}))
	must("set budget", err)
	_, err = s.admin.RevokePrincipal(ctx, connect.NewRequest(&fvv1.RevokePrincipalRequest{Name: "gone"}))
	must("revoke", err)
	_, err = s.admin.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "customer", Keys: []string{"sup-1"}, Suppress: true}))
	must("erase with suppression", err)
	return f
}

// limitsView declares value constraints: score is required and within
// [0, 100], tier is gold or silver.
func limitsView() *fvv1.FeatureView {
	lo, hi := 0.0, 100.0
	return &fvv1.FeatureView{Name: "limits", Entity: "customer", Fields: []*fvv1.Field{
		{Name: "score", Type: fvv1.FieldType_FIELD_TYPE_INT64, Constraints: &fvv1.FieldConstraints{Required: true, Min: &lo, Max: &hi}},
		{Name: "tier", Type: fvv1.FieldType_FIELD_TYPE_STRING, Constraints: &fvv1.FieldConstraints{AllowedStrings: []string{"gold", "silver"}}},
	}}
}

// secrets are the strings no error message may hold.
func (f *badInputFixture) secrets() []string {
	out := []string{markerKey, markerEmail, "31337.0625", "31337.06", markerBytes, badToken, f.s.token}
	for _, tok := range f.tokens {
		out = append(out, tok)
	}
	return out
}

func (f *badInputFixture) featureAs(token, purpose string) featurevaultv1connect.FeatureServiceClient {
	return featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, f.s.url, f.s.as(token, purpose))
}

func (f *badInputFixture) adminAs(token string) featurevaultv1connect.AdminServiceClient {
	return featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, f.s.url, f.s.as(token, ""))
}

// withHeader is a FeatureService client as the admin, for "analytics",
// with one more header set.
func (f *badInputFixture) withHeader(name, value string) featurevaultv1connect.FeatureServiceClient {
	h := client.Headers(f.s.token, "analytics", false)
	h.Set(name, value)
	return featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, f.s.url, connect.WithInterceptors(client.HeaderInterceptor(h)))
}

func strValue(s string) *fvv1.Value {
	return &fvv1.Value{Kind: &fvv1.Value_StringValue{StringValue: s}}
}
func floatValue(x float64) *fvv1.Value {
	return &fvv1.Value{Kind: &fvv1.Value_Float64Value{Float64Value: x}}
}
func intValue(x int64) *fvv1.Value { return &fvv1.Value{Kind: &fvv1.Value_Int64Value{Int64Value: x}} }

// badCase is one row of the table: a call that must be refused with code,
// with a message containing msg (what to fix).
type badCase struct {
	name string
	call func(ctx context.Context) error
	code connect.Code
	msg  string
}

// runBadCases runs each case in turn against the store of s, checking the
// code, the message, that no secret leaks, and that the store — its data KV
// and its keystore, everything but the audit log, which records refusals —
// is exactly as it was.
func runBadCases(t *testing.T, s *server, secrets []string, cases []badCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := storestate.Take(s.store)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(t.Context())
			if got := connect.CodeOf(err); err == nil || got != tc.code {
				t.Fatalf("got code %v (error %v), want %v", got, err, tc.code)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("error %q does not say %q", msg, tc.msg)
			}
			for _, secret := range secrets {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q holds the secret %q", msg, secret)
				}
			}
			after, err := storestate.Take(s.store)
			if err != nil {
				t.Fatal(err)
			}
			if diff := before.Diff(after); len(diff) > 0 {
				t.Errorf("the refused request changed the store (audit log excluded):\n  %s", strings.Join(diff, "\n  "))
			}
		})
	}
}

// ipcStream encodes one record batch built by fill as an Arrow IPC stream.
func ipcStream(t *testing.T, schema *arrow.Schema, fill func(b *array.RecordBuilder)) []byte {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	fill(b)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	utcMicros  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	markerTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

// ingestTable is an IngestArrow payload for profile: customer_id,
// event_timestamp and one more column.
func ingestTable(t *testing.T, extra arrow.Field, fill func(b array.Builder)) []byte {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: utcMicros},
		extra,
	}, nil)
	return ipcStream(t, schema, func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append(markerKey)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(markerTime.UnixMicro()))
		fill(b.Field(2))
	})
}

// entityRows is a GetHistoricalFeatures payload: customer_id and, when
// withTime, event_timestamp.
func entityRows(t *testing.T, withTime bool) []byte {
	t.Helper()
	fields := []arrow.Field{{Name: "customer_id", Type: arrow.BinaryTypes.String}}
	if withTime {
		fields = append(fields, arrow.Field{Name: "event_timestamp", Type: utcMicros})
	}
	return ipcStream(t, arrow.NewSchema(fields, nil), func(b *array.RecordBuilder) {
		b.Field(0).(*array.StringBuilder).Append(markerKey)
		if withTime {
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(markerTime.UnixMicro()))
		}
	})
}

// profileView is the profile view of testSpec, as the API takes it.
func profileView(t *testing.T) *fvv1.FeatureView {
	t.Helper()
	spec, err := store.ParseSpec([]byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	return viewProto(spec.Views[0])
}

// ingestMessages sends msgs as one IngestArrow client stream.
func ingestMessages(ctx context.Context, c featurevaultv1connect.FeatureServiceClient, msgs ...*fvv1.IngestArrowRequest) error {
	st := c.IngestArrow(ctx)
	for _, m := range msgs {
		if err := st.Send(m); err != nil {
			break // the server answered early; CloseAndReceive has its error
		}
	}
	_, err := st.CloseAndReceive()
	return err
}

// readToEnd reads a server stream to its end and returns its error.
func readToEnd[T any](st *connect.ServerStreamForClient[T], err error) error {
	if err != nil {
		return err
	}
	for st.Receive() {
	}
	err = st.Err()
	st.Close()
	return err
}

func TestBadRPCInputIsRefusedClearlyAndChangesNothing(t *testing.T) {
	t.Parallel()
	f := newBadInputFixture(t)
	s := f.s
	write := func(c featurevaultv1connect.FeatureServiceClient, view string, rows ...*fvv1.Row) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := c.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: view, Rows: rows}))
			return err
		}
	}
	row := func(key string, values map[string]*fvv1.Value) *fvv1.Row {
		return &fvv1.Row{EntityKey: key, EventTime: timestamppb.New(markerTime), Values: values}
	}
	good := row("c-2", map[string]*fvv1.Value{"age": intValue(3)})
	tooMany := make([]*fvv1.Row, 10_001)
	for i := range tooMany {
		tooMany[i] = &fvv1.Row{EntityKey: "c-2", EventTime: timestamppb.New(markerTime.Add(time.Duration(i)))}
	}
	online := func(c featurevaultv1connect.FeatureServiceClient, req *fvv1.GetOnlineFeaturesRequest) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := c.GetOnlineFeatures(ctx, connect.NewRequest(req))
			return err
		}
	}
	batches := func(req *fvv1.ReadBatchesRequest) func(context.Context) error {
		return func(ctx context.Context) error { return readToEnd(s.feature.ReadBatches(ctx, connect.NewRequest(req))) }
	}
	historical := func(req *fvv1.GetHistoricalFeaturesRequest) func(context.Context) error {
		return func(ctx context.Context) error {
			return readToEnd(s.feature.GetHistoricalFeatures(ctx, connect.NewRequest(req)))
		}
	}
	ingestMsgs := func(msgs ...*fvv1.IngestArrowRequest) func(context.Context) error {
		return func(ctx context.Context) error { return ingestMessages(ctx, s.feature, msgs...) }
	}
	aggregateAs := func(who string, req *fvv1.AggregateRequest) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := f.featureAs(f.tokens[who], "analytics").Aggregate(ctx, connect.NewRequest(req))
			return err
		}
	}
	agg := func(fn fvv1.AggregateFunction, field string, eps float64) *fvv1.AggregateRequest {
		return &fvv1.AggregateRequest{View: "profile", Field: field, Function: fn, Epsilon: eps}
	}
	count, mean := fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, fvv1.AggregateFunction_AGGREGATE_FUNCTION_MEAN
	applyView := func(v *fvv1.FeatureView) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: v}))
			return err
		}
	}
	boolField := func(name string) *fvv1.Field { return &fvv1.Field{Name: name, Type: fvv1.FieldType_FIELD_TYPE_BOOL} }
	grant := func(r *fvv1.Rule) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: r}))
			return err
		}
	}
	admin := func(call func(context.Context, featurevaultv1connect.AdminServiceClient) error) func(context.Context) error {
		return func(ctx context.Context) error { return call(ctx, s.admin) }
	}
	one, ten := 1.0, 10.0
	typeChanged := profileView(t)
	typeChanged.Fields[0].Type = fvv1.FieldType_FIELD_TYPE_STRING // active: bool
	validRecord := ingestTable(t, arrow.Field{Name: "age", Type: arrow.PrimitiveTypes.Int64}, func(b array.Builder) { b.(*array.Int64Builder).Append(7) })

	cases := []badCase{
		// WriteFeatures
		{"write: unknown view", write(s.feature, "nope", good), connect.CodeNotFound, `view "nope"`},
		{"write: unknown field", write(s.feature, "profile", good, row("c-3", map[string]*fvv1.Value{"height": intValue(1)})), connect.CodeNotFound, `no field "height"`},
		{"write: wrong type", write(s.feature, "profile", good, row(markerKey, map[string]*fvv1.Value{"age": strValue(markerEmail)})), connect.CodeInvalidArgument, `"age"`},
		{"write: NaN where the field does not allow it", write(s.feature, "profile", row("c-3", map[string]*fvv1.Value{"income": floatValue(math.NaN())})), connect.CodeInvalidArgument, "NaN"},
		{"write: too many rows", write(s.feature, "profile", tooMany...), connect.CodeInvalidArgument, "10000"},
		{"write: no rows", write(s.feature, "profile"), connect.CodeInvalidArgument, "no rows"},
		{"write: empty entity key", write(s.feature, "profile", good, row("", map[string]*fvv1.Value{"age": intValue(1)})), connect.CodeInvalidArgument, "row 1"},
		{"write: event time not a valid timestamp", write(s.feature, "profile", &fvv1.Row{EntityKey: "c-3", EventTime: &timestamppb.Timestamp{Seconds: math.MaxInt64}}), connect.CodeInvalidArgument, "event_time"},
		{"write: event time past 2262", write(s.feature, "profile", &fvv1.Row{EntityKey: "c-3", EventTime: timestamppb.New(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))}), connect.CodeInvalidArgument, "2262-04-11"},
		{"write: invalid timestamp value", write(s.feature, "profile", row("c-3", map[string]*fvv1.Value{"signup": {Kind: &fvv1.Value_TimestampValue{TimestampValue: &timestamppb.Timestamp{Nanos: -1}}}})), connect.CodeInvalidArgument, `field "signup"`},
		{"write: subject erased with suppression", write(s.feature, "profile", good, row("sup-1", map[string]*fvv1.Value{"age": intValue(1)})), connect.CodeFailedPrecondition, "suppress"},
		{"write: value above the field's max", write(s.feature, "limits", row(markerKey, map[string]*fvv1.Value{"score": intValue(1000)})), connect.CodeInvalidArgument, `field "score" is above max 100`},
		{"write: required field left out", write(s.feature, "limits", row("c-3", map[string]*fvv1.Value{"score": intValue(5)}), row(markerKey, map[string]*fvv1.Value{"tier": strValue("gold")})), connect.CodeInvalidArgument, `row 1: view "limits" field "score" is required`},
		{"write: value not allowed", write(s.feature, "limits", row(markerKey, map[string]*fvv1.Value{"score": intValue(5), "tier": strValue(markerEmail)})), connect.CodeInvalidArgument, `field "tier" is not one of the allowed values`},
		{"write: no purpose header", write(f.featureAs(s.token, ""), "profile", good), connect.CodeInvalidArgument, rpc.HeaderPurpose},
		{"write: strict header not a boolean", write(f.withHeader(rpc.HeaderStrict, "maybe"), "profile", good), connect.CodeInvalidArgument, rpc.HeaderStrict},
		{"write: purpose the principal may not claim", write(f.featureAs(f.tokens["ana"], "training"), "profile", good), connect.CodePermissionDenied, "training"},
		{"write: no write grant", write(f.featureAs(f.tokens["ana"], "analytics"), "profile", good), connect.CodePermissionDenied, "write denied"},

		// GetOnlineFeatures
		{"online: unknown view", online(s.feature, &fvv1.GetOnlineFeaturesRequest{View: "nope", EntityKeys: []string{markerKey}}), connect.CodeNotFound, `view "nope"`},
		{"online: unknown feature", online(s.feature, &fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{markerKey}, Features: []string{"height"}}), connect.CodeNotFound, `no field "height"`},
		{"online: no entity keys", online(s.feature, &fvv1.GetOnlineFeaturesRequest{View: "profile"}), connect.CodeInvalidArgument, "no entity keys"},
		{"online: too many entity keys", online(s.feature, &fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: make([]string, 1001)}), connect.CodeInvalidArgument, "limit of 1000"},
		{"online: entity key not of the entity's form", online(s.feature, &fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{markerKey, ""}}), connect.CodeInvalidArgument, "entity key 1"},
		{"online: strict read with every column denied", online(featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, connect.WithInterceptors(client.HeaderInterceptor(client.Headers(f.tokens["ana"], "analytics", true)))), &fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{markerKey}}), connect.CodePermissionDenied, "policy explain"},

		// ReadBatches
		{"batches: unknown view", batches(&fvv1.ReadBatchesRequest{View: "nope"}), connect.CodeNotFound, `view "nope"`},
		{"batches: unknown feature", batches(&fvv1.ReadBatchesRequest{View: "profile", Features: []string{"height"}}), connect.CodeNotFound, `"height"`},
		{"batches: as_of with end_time", batches(&fvv1.ReadBatchesRequest{View: "profile", AsOf: timestamppb.New(markerTime), EndTime: timestamppb.New(markerTime)}), connect.CodeInvalidArgument, "end time cannot be combined"},
		{"batches: batch_rows over the limit", batches(&fvv1.ReadBatchesRequest{View: "profile", BatchRows: 1 << 20}), connect.CodeInvalidArgument, "65536"},
		{"batches: invalid start_time", batches(&fvv1.ReadBatchesRequest{View: "profile", StartTime: &timestamppb.Timestamp{Nanos: 2e9}}), connect.CodeInvalidArgument, "start_time"},

		// GetHistoricalFeatures
		{"history: no entity rows", historical(&fvv1.GetHistoricalFeaturesRequest{Features: []string{"profile:age"}}), connect.CodeInvalidArgument, "entity_rows"},
		{"history: entity rows not Arrow", historical(&fvv1.GetHistoricalFeaturesRequest{Features: []string{"profile:age"}, EntityRows: []byte(markerEmail)}), connect.CodeInvalidArgument, "Arrow IPC"},
		{"history: feature without a view", historical(&fvv1.GetHistoricalFeaturesRequest{Features: []string{"age"}, EntityRows: entityRows(t, true)}), connect.CodeInvalidArgument, "view:field"},
		{"history: no timestamp column", historical(&fvv1.GetHistoricalFeaturesRequest{Features: []string{"profile:age"}, EntityRows: entityRows(t, false)}), connect.CodeInvalidArgument, "event_timestamp"},

		// IngestArrow
		{"ingest: empty stream", ingestMsgs(), connect.CodeInvalidArgument, "stream is empty"},
		{"ingest: unknown view", ingestMsgs(&fvv1.IngestArrowRequest{View: "nope", ArrowIpc: validRecord}), connect.CodeNotFound, `view "nope"`},
		{"ingest: malformed IPC", ingestMsgs(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: []byte(markerEmail)}), connect.CodeInvalidArgument, "Arrow IPC"},
		{"ingest: schema does not fit the view", ingestMsgs(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: ingestTable(t, arrow.Field{Name: "age", Type: arrow.BinaryTypes.String}, func(b array.Builder) { b.(*array.StringBuilder).Append(markerEmail) })}), connect.CodeInvalidArgument, `"age"`},
		{"ingest: a refused row", ingestMsgs(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: ingestTable(t, arrow.Field{Name: "income", Type: arrow.PrimitiveTypes.Float64}, func(b array.Builder) { b.(*array.Float64Builder).Append(math.NaN()) })}), connect.CodeInvalidArgument, "income"},
		{"ingest: a later message names another view", ingestMsgs(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: validRecord[:len(validRecord)/2]}, &fvv1.IngestArrowRequest{View: "other", ArrowIpc: validRecord[len(validRecord)/2:]}), connect.CodeInvalidArgument, "first message only"},

		// Aggregate
		{"aggregate: zero epsilon", aggregateAs("ana", agg(count, "income", 0)), connect.CodeInvalidArgument, "epsilon"},
		{"aggregate: NaN epsilon", aggregateAs("ana", agg(count, "income", math.NaN())), connect.CodeInvalidArgument, "epsilon"},
		{"aggregate: delta of 1", aggregateAs("ana", &fvv1.AggregateRequest{View: "profile", Field: "income", Function: count, Epsilon: 0.1, Delta: 1}), connect.CodeInvalidArgument, "delta"},
		{"aggregate: unknown field", aggregateAs("ana", agg(count, "height", 0.1)), connect.CodeNotFound, `"height"`},
		{"aggregate: mean of a string", aggregateAs("ana", agg(mean, "email", 0.1)), connect.CodeInvalidArgument, "int64 or float64"},
		{"aggregate: no function", aggregateAs("ana", agg(0, "income", 0.1)), connect.CodeInvalidArgument, "count, sum, mean or histogram"},
		{"aggregate: over budget", aggregateAs("ana", agg(count, "income", 5)), connect.CodeResourceExhausted, "budget"},
		{"aggregate: no budget", aggregateAs("bea", agg(count, "income", 0.1)), connect.CodeResourceExhausted, "budget"},

		// AdminService: the registry
		{"apply: no view", applyView(nil), connect.CodeInvalidArgument, "view is missing"},
		{"apply: field type change", applyView(typeChanged), connect.CodeFailedPrecondition, `"active"`},
		{"apply: field removed", applyView(&fvv1.FeatureView{Name: "profile", Entity: "customer", Fields: []*fvv1.Field{boolField("active")}}), connect.CodeFailedPrecondition, "age"},
		{"apply: view name with policy syntax", applyView(&fvv1.FeatureView{Name: "p, admin", Entity: "customer", Fields: []*fvv1.Field{boolField("x")}}), connect.CodeInvalidArgument, "view"},
		{"apply: unknown entity", applyView(&fvv1.FeatureView{Name: "v2", Entity: "nope", Fields: []*fvv1.Field{boolField("x")}}), connect.CodeNotFound, `"nope"`},
		{"apply: field declared twice", applyView(&fvv1.FeatureView{Name: "v2", Entity: "customer", Fields: []*fvv1.Field{boolField("x"), boolField("x")}}), connect.CodeInvalidArgument, "declared twice"},
		{"apply: bounds reversed", applyView(&fvv1.FeatureView{Name: "v2", Entity: "customer", Fields: []*fvv1.Field{{Name: "x", Type: fvv1.FieldType_FIELD_TYPE_FLOAT64, Bounds: []float64{10, 1}}}}), connect.CodeInvalidArgument, "min < max"},
		{"apply: constraint min above max", applyView(&fvv1.FeatureView{Name: "v2", Entity: "customer", Fields: []*fvv1.Field{{Name: "x", Type: fvv1.FieldType_FIELD_TYPE_INT64, Constraints: &fvv1.FieldConstraints{Min: &ten, Max: &one}}}}), connect.CodeInvalidArgument, "min 10 is above max 1"},
		{"apply: negative ttl", applyView(&fvv1.FeatureView{Name: "v2", Entity: "customer", TtlSeconds: -1, Fields: []*fvv1.Field{boolField("x")}}), connect.CodeInvalidArgument, "ttl"},
		{"apply: field without a type", applyView(&fvv1.FeatureView{Name: "v2", Entity: "customer", Fields: []*fvv1.Field{{Name: "x"}}}), connect.CodeInvalidArgument, "type"},
		{"apply: entity key type change", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{Name: "customer", JoinKey: "customer_id", KeyType: fvv1.KeyType_KEY_TYPE_INT64}}))
			return err
		}), connect.CodeFailedPrecondition, "customer"},
		{"apply: join key with a quote", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{Name: "e2", JoinKey: `id"`}}))
			return err
		}), connect.CodeInvalidArgument, "join key"},

		// AdminService: principals, roles and policies
		{"grant: role with policy syntax", grant(rule("analyst, admin", read, "profile.*", "", "", false)), connect.CodeInvalidArgument, "role"},
		{"grant: no action", grant(rule("analyst", 0, "profile.*", "", "", false)), connect.CodeInvalidArgument, "action"},
		{"grant: object with a newline", grant(rule("analyst", read, "profile.*\np, x, *, admin", "", "", false)), connect.CodeInvalidArgument, "object"},
		{"grant: purpose with a quote", grant(rule("analyst", read, "profile.*", `training"`, "", false)), connect.CodeInvalidArgument, "purpose"},
		{"revoke: rule that does not exist", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.RevokePolicy(ctx, connect.NewRequest(&fvv1.RevokePolicyRequest{Rule: rule("nobody", read, "profile.*", "", "", false)}))
			return err
		}), connect.CodeNotFound, "rule"},
		{"principal: name with a quote", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: `eve"`}))
			return err
		}), connect.CodeInvalidArgument, "principal"},
		{"principal: exists", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "ana"}))
			return err
		}), connect.CodeAlreadyExists, `"ana"`},
		{"principal: bad role", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "eve", Roles: []string{"analyst admin"}}))
			return err
		}), connect.CodeInvalidArgument, "role"},
		{"principal: purpose attribute with policy syntax", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "eve", Attributes: map[string]*fvv1.StringList{"purpose": {Values: []string{"a,b"}}}}))
			return err
		}), connect.CodeInvalidArgument, "purpose"},
		{"principal: revoke unknown", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.RevokePrincipal(ctx, connect.NewRequest(&fvv1.RevokePrincipalRequest{Name: "nobody"}))
			return err
		}), connect.CodeNotFound, `"nobody"`},
		{"role: assign a bad role", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.AssignRole(ctx, connect.NewRequest(&fvv1.AssignRoleRequest{Principal: "ana", Role: "x\ny"}))
			return err
		}), connect.CodeInvalidArgument, "role"},
		{"role: unassign a role not held", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.UnassignRole(ctx, connect.NewRequest(&fvv1.UnassignRoleRequest{Principal: "ana", Role: "auditor"}))
			return err
		}), connect.CodeNotFound, "auditor"},
		{"token: for a revoked principal", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.IssueToken(ctx, connect.NewRequest(&fvv1.IssueTokenRequest{Principal: "gone", TtlSeconds: 60}))
			return err
		}), connect.CodeFailedPrecondition, `"gone"`},
		{"token: negative ttl", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.IssueToken(ctx, connect.NewRequest(&fvv1.IssueTokenRequest{Principal: "ana", TtlSeconds: -60}))
			return err
		}), connect.CodeInvalidArgument, "JWT lifetime"},
		{"explain: unknown principal", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.Explain(ctx, connect.NewRequest(&fvv1.ExplainRequest{Principal: "nobody", View: "profile", Purpose: "analytics"}))
			return err
		}), connect.CodeNotFound, `"nobody"`},
		{"explain: no purpose", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.Explain(ctx, connect.NewRequest(&fvv1.ExplainRequest{Principal: "ana", View: "profile"}))
			return err
		}), connect.CodeInvalidArgument, "--purpose"},

		// AdminService: subjects, budgets, keys, audit
		{"erase: unknown entity", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "nope", Keys: []string{markerKey}}))
			return err
		}), connect.CodeNotFound, `"nope"`},
		{"erase: key not of the entity's form", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "account", Keys: []string{"12", markerKey}}))
			return err
		}), connect.CodeInvalidArgument, "int64"},
		{"erase: no keys", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "customer"}))
			return err
		}), connect.CodeInvalidArgument, "key"},
		{"restrict: purpose with policy syntax", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.RestrictSubject(ctx, connect.NewRequest(&fvv1.RestrictSubjectRequest{Entity: "customer", Key: markerKey, Purpose: "training, admin"}))
			return err
		}), connect.CodeInvalidArgument, "purpose"},
		{"unrestrict: unknown entity", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.UnrestrictSubject(ctx, connect.NewRequest(&fvv1.UnrestrictSubjectRequest{Entity: "nope", Key: markerKey, Purpose: "training"}))
			return err
		}), connect.CodeNotFound, `"nope"`},
		{"rotate-subject: never written", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.RotateSubjectKey(ctx, connect.NewRequest(&fvv1.RotateSubjectKeyRequest{Entity: "customer", Key: "c-never"}))
			return err
		}), connect.CodeNotFound, "subject"},
		{"budget: negative", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.SetBudget(ctx, connect.NewRequest(&fvv1.SetBudgetRequest{Principal: "ana", Epsilon: -1}))
			return err
		}), connect.CodeInvalidArgument, "epsilon"},
		{"budget: unknown principal", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.SetBudget(ctx, connect.NewRequest(&fvv1.SetBudgetRequest{Principal: "nobody", Epsilon: 1}))
			return err
		}), connect.CodeNotFound, `"nobody"`},
		{"budget: reset of none", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.ResetBudget(ctx, connect.NewRequest(&fvv1.ResetBudgetRequest{Principal: "bea"}))
			return err
		}), connect.CodeNotFound, "budget set"},
		{"keys: retire the primary", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			st, err := a.GetKeyStatus(ctx, connect.NewRequest(&fvv1.GetKeyStatusRequest{}))
			if err != nil {
				return err
			}
			_, err = a.RetireKEK(ctx, connect.NewRequest(&fvv1.RetireKEKRequest{Version: st.Msg.Versions[0].Id}))
			return err
		}), connect.CodeFailedPrecondition, "primary"},
		{"keys: retire an unknown version", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.RetireKEK(ctx, connect.NewRequest(&fvv1.RetireKEKRequest{Version: 12345}))
			return err
		}), connect.CodeNotFound, "12345"},
		{"keys: rewrap with a negative batch", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			return readToEnd(a.RewrapKeys(ctx, connect.NewRequest(&fvv1.RewrapKeysRequest{BatchSize: -1})))
		}), connect.CodeInvalidArgument, "batch"},
		{"audit: bad checkpoint", admin(func(ctx context.Context, a featurevaultv1connect.AdminServiceClient) error {
			_, err := a.VerifyAudit(ctx, connect.NewRequest(&fvv1.VerifyAuditRequest{Checkpoints: []string{"seven:abc"}}))
			return err
		}), connect.CodeInvalidArgument, "sequence number"},

		// Authentication and authorisation
		{"auth: no token", write(f.featureAs("", "analytics"), "profile", good), connect.CodeUnauthenticated, "Authorization: Bearer"},
		{"auth: bad token", write(f.featureAs(badToken, "analytics"), "profile", good), connect.CodeUnauthenticated, "not valid"},
		{"auth: token of a revoked principal", write(f.featureAs(f.tokens["gone"], "analytics"), "profile", good), connect.CodeUnauthenticated, "revoked"},
		{"auth: admin call without the admin action", func(ctx context.Context) error {
			_, err := f.adminAs(f.tokens["carl"]).CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "eve"}))
			return err
		}, connect.CodePermissionDenied, "--action admin"},
		{"auth: admin call for a purpose the principal may not claim", func(ctx context.Context) error {
			_, err := f.adminAs(f.tokens["ana"]).CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "eve"}))
			return err
		}, connect.CodePermissionDenied, rpc.AdminPurpose},
	}
	runBadCases(t, s, f.secrets(), cases)
}
