package rpc_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// server is a real FeatureVault server on a loopback port, with clients
// that authenticate as the bootstrap admin.
type server struct {
	url     string
	store   *store.Store
	backend *rpc.Backend
	token   string // the bootstrap admin's
	stop    func()
	feature featurevaultv1connect.FeatureServiceClient
	admin   featurevaultv1connect.AdminServiceClient
}

// startServer opens the backend in dir and serves it on 127.0.0.1:0.
func startServer(t testing.TB, dir string, opts ...rpc.Option) *server {
	t.Helper()
	return serveBackend(t, dir, openBackend(t, dir, quietLog), opts...)
}

// openBackend opens the backend in dir, logging to log.
func openBackend(t testing.TB, dir string, log *slog.Logger) *rpc.Backend {
	t.Helper()
	b, err := rpc.OpenBackend(context.Background(), dir, store.DefaultOptions(dir).WithLogger(log).WithSyncWrites(false), log)
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	return b
}

// serveBackend serves b (opened in dir) on 127.0.0.1:0 until the test
// ends, then closes it. opts may set the logger (default quietLog).
func serveBackend(t testing.TB, dir string, b *rpc.Backend, opts ...rpc.Option) *server {
	t.Helper()
	st := b.Store
	token, err := os.ReadFile(filepath.Join(dir, rpc.AdminTokenFile))
	if err != nil {
		t.Fatalf("read admin token: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- rpc.NewServer(b, append([]rpc.Option{rpc.WithLogger(quietLog)}, opts...)...).Serve(ctx, ln)
	}()
	url := "http://" + ln.Addr().String()
	s := &server{
		url:     url,
		store:   st,
		backend: b,
		token:   strings.TrimSpace(string(token)),
	}
	s.feature = featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, url, s.as(s.token, "analytics"))
	s.admin = featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, url, s.as(s.token, ""))
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	}
	t.Cleanup(s.stop)
	return s
}

const testSpec = `
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: active,    type: bool}
      - {name: age,       type: int64}
      - {name: income,    type: float64, tags: [pii], bounds: [0, 100000], buckets: [0, 5000, 50000, 100000]}
      - {name: email,     type: string,  tags: [pii]}
      - {name: avatar,    type: bytes}
      - {name: signup,    type: timestamp}
      - {name: embedding, type: "list<float32>"}
`

// as is a client option that authenticates with token and states purpose.
func (s *server) as(token, purpose string) connect.ClientOption {
	return connect.WithInterceptors(client.HeaderInterceptor(client.Headers(token, purpose, false)))
}

// applySpec applies testSpec through the AdminService, as the CLI does.
func applySpec(t testing.TB, s *server) {
	t.Helper()
	spec, err := store.ParseSpec([]byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, e := range spec.Entities {
		kt := fvv1.KeyType_KEY_TYPE_STRING
		if e.KeyType == store.KeyInt64 {
			kt = fvv1.KeyType_KEY_TYPE_INT64
		}
		if _, err := s.admin.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{Name: e.Name, JoinKey: e.JoinKey, KeyType: kt}})); err != nil {
			t.Fatalf("apply entity: %v", err)
		}
	}
	for _, v := range spec.Views {
		if _, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: viewProto(v)})); err != nil {
			t.Fatalf("apply view: %v", err)
		}
	}
}

var protoTypes = map[store.FieldType]fvv1.FieldType{
	store.Bool: fvv1.FieldType_FIELD_TYPE_BOOL, store.Int64: fvv1.FieldType_FIELD_TYPE_INT64,
	store.Float64: fvv1.FieldType_FIELD_TYPE_FLOAT64, store.String: fvv1.FieldType_FIELD_TYPE_STRING,
	store.Bytes: fvv1.FieldType_FIELD_TYPE_BYTES, store.Timestamp: fvv1.FieldType_FIELD_TYPE_TIMESTAMP,
	store.Float32List: fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST,
}

func viewProto(v store.View) *fvv1.FeatureView {
	out := &fvv1.FeatureView{Name: v.Name, Entity: v.Entity, TtlSeconds: int64(v.TTL / time.Second)}
	for _, f := range v.Fields {
		out.Fields = append(out.Fields, &fvv1.Field{Name: f.Name, Type: protoTypes[f.Type], Tags: f.Tags, Bounds: f.Bounds, Buckets: f.Buckets})
	}
	return out
}

func sampleRow(key string) *fvv1.Row {
	return &fvv1.Row{
		EntityKey: key,
		EventTime: timestamppb.New(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)),
		Values: map[string]*fvv1.Value{
			"active":    {Kind: &fvv1.Value_BoolValue{BoolValue: true}},
			"age":       {Kind: &fvv1.Value_Int64Value{Int64Value: -41}},
			"income":    {Kind: &fvv1.Value_Float64Value{Float64Value: 52000.5}},
			"email":     {Kind: &fvv1.Value_StringValue{StringValue: "a@example.com ✓"}},
			"avatar":    {Kind: &fvv1.Value_BytesValue{BytesValue: []byte{0, 0xff, 7}}},
			"signup":    {Kind: &fvv1.Value_TimestampValue{TimestampValue: timestamppb.New(time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC))}},
			"embedding": {Kind: &fvv1.Value_FloatListValue{FloatListValue: &fvv1.FloatList{Values: []float32{1.5, -2, 1e-7}}}},
		},
	}
}

// wantOnline is the GetOnlineFeatures answer for sampleRow, in view order.
func wantOnline(key string) *fvv1.GetOnlineFeaturesResponse {
	r := sampleRow(key)
	names := []string{"active", "age", "income", "email", "avatar", "signup", "embedding"}
	row := &fvv1.OnlineRow{EntityKey: key, EventTime: r.EventTime}
	for _, n := range names {
		row.Values = append(row.Values, r.Values[n])
		row.Statuses = append(row.Statuses, fvv1.FieldStatus_FIELD_STATUS_PRESENT)
	}
	return &fvv1.GetOnlineFeaturesResponse{Features: names, Rows: []*fvv1.OnlineRow{row}}
}

func TestRoundTripEveryTypeOverEachProtocolAndAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir)
	applySpec(t, s)
	ctx := t.Context()
	res, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-42")}}))
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if res.Msg.RowsWritten != 1 || res.Msg.ValuesWritten != 7 {
		t.Errorf("wrote %d rows, %d values; want 1, 7", res.Msg.RowsWritten, res.Msg.ValuesWritten)
	}
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	auth := s.as(s.token, "analytics")
	clients := map[string]featurevaultv1connect.FeatureServiceClient{
		"connect":  s.feature,
		"grpc":     featurevaultv1connect.NewFeatureServiceClient(h2c, s.url, connect.WithGRPC(), auth),
		"grpc-web": featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, connect.WithGRPCWeb(), auth),
		"json":     featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, connect.WithProtoJSON(), auth),
	}
	check := func(when string, s *server) {
		for name, c := range clients {
			got, err := c.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-42"}}))
			if err != nil {
				t.Fatalf("%s %s: read: %v", when, name, err)
			}
			if diff := cmp.Diff(wantOnline("c-42"), got.Msg, protocmp.Transform()); diff != "" {
				t.Errorf("%s %s: online features differ (-want +got):\n%s", when, name, diff)
			}
		}
	}
	check("before restart", s)
	s.stop()
	s2 := startServer(t, dir)
	for name := range clients {
		opt := map[string][]connect.ClientOption{"grpc": {connect.WithGRPC()}, "grpc-web": {connect.WithGRPCWeb()}, "json": {connect.WithProtoJSON()}}[name]
		hc := connect.HTTPClient(http.DefaultClient)
		if name == "grpc" {
			hc = h2c
		}
		clients[name] = featurevaultv1connect.NewFeatureServiceClient(hc, s2.url, append(opt, s2.as(s2.token, "analytics"))...)
	}
	check("after restart", s2)
}

func h2cOnly() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}

// snapshot is everything a client can observe of the store's state.
func snapshot(t *testing.T, s *server) []proto.Message {
	t.Helper()
	ctx := t.Context()
	views, err := s.admin.ListFeatureViews(ctx, connect.NewRequest(&fvv1.ListFeatureViewsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-1", "c-2", "c-3"}}))
	if err != nil {
		t.Fatal(err)
	}
	return []proto.Message{views.Msg, rows.Msg}
}

func TestBadInputGetsClearErrorAndChangesNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), rpc.WithMaxRequestBytes(64<<10))
	applySpec(t, s)
	ctx := t.Context()
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-1")}})); err != nil {
		t.Fatal(err)
	}
	val := func(v *fvv1.Value) map[string]*fvv1.Value { return map[string]*fvv1.Value{"age": v} }
	i64 := &fvv1.Value{Kind: &fvv1.Value_Int64Value{Int64Value: 3}}
	write := func(view string, rows ...*fvv1.Row) func() error {
		return func() error {
			_, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: view, Rows: rows}))
			return err
		}
	}
	good := &fvv1.Row{EntityKey: "c-2", Values: val(i64)}
	typeChange := viewProto(store.View{Name: "profile", Entity: "customer", Fields: []store.Field{{Name: "active", Type: store.String}}})
	tests := []struct {
		name string
		call func() error
		code connect.Code
		msg  string
	}{
		{"unknown view", write("nope", good), connect.CodeNotFound, `view "nope" does not exist`},
		{"unknown field", write("profile", good, &fvv1.Row{EntityKey: "c-3", Values: map[string]*fvv1.Value{"height": i64}}), connect.CodeNotFound, `no field "height"`},
		{"wrong type", write("profile", good, &fvv1.Row{EntityKey: "c-3", Values: map[string]*fvv1.Value{"email": i64}}), connect.CodeInvalidArgument, `field "email" is string`},
		{"NaN", write("profile", good, &fvv1.Row{EntityKey: "c-3", Values: map[string]*fvv1.Value{"income": {Kind: &fvv1.Value_Float64Value{Float64Value: math.NaN()}}}}), connect.CodeInvalidArgument, "refuses NaN"},
		{"no rows", write("profile"), connect.CodeInvalidArgument, "no rows"},
		{"empty entity key", write("profile", &fvv1.Row{Values: val(i64)}), connect.CodeInvalidArgument, "row 0"},
		{"bad event time", write("profile", &fvv1.Row{EntityKey: "c-3", EventTime: &timestamppb.Timestamp{Seconds: math.MaxInt64}}), connect.CodeInvalidArgument, "event_time"},
		{"oversize message", write("profile", &fvv1.Row{EntityKey: "c-3", Values: map[string]*fvv1.Value{"email": {Kind: &fvv1.Value_StringValue{StringValue: strings.Repeat("x", 100<<10)}}}}), connect.CodeResourceExhausted, "over the server's limit of 65536 bytes per message (--max-request-bytes)"},
		{"read unknown view", func() error {
			_, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "nope", EntityKeys: []string{"c-1"}}))
			return err
		}, connect.CodeNotFound, `view "nope"`},
		{"read unknown feature", func() error {
			_, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-1"}, Features: []string{"height"}}))
			return err
		}, connect.CodeNotFound, `no field "height"`},
		{"read no keys", func() error {
			_, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile"}))
			return err
		}, connect.CodeInvalidArgument, "no entity keys"},
		{"spec with a type change", func() error {
			_, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: typeChange}))
			return err
		}, connect.CodeFailedPrecondition, `"active"`},
		{"view without type", func() error {
			_, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: &fvv1.FeatureView{Name: "v2", Entity: "customer", Fields: []*fvv1.Field{{Name: "x"}}}}))
			return err
		}, connect.CodeInvalidArgument, "type"},
		{"view name with a comma", func() error {
			_, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: &fvv1.FeatureView{Name: "a,b", Entity: "customer", Fields: []*fvv1.Field{{Name: "x", Type: fvv1.FieldType_FIELD_TYPE_BOOL}}}}))
			return err
		}, connect.CodeInvalidArgument, "a,b"},
		{"invalid UTF-8 entity key", func() error { return rawPost(t, s, invalidUTF8Request()) }, connect.CodeInvalidArgument, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, s)
			err := tc.call()
			if got := connect.CodeOf(err); got != tc.code {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			after := snapshot(t, s)
			for i := range before {
				if diff := cmp.Diff(before[i], after[i], protocmp.Transform()); diff != "" {
					t.Errorf("state changed by a refused request (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// invalidUTF8Request is a WriteFeaturesRequest whose entity key is not
// UTF-8: Go's protobuf refuses to marshal one, so it is written by hand.
func invalidUTF8Request() []byte {
	row := []byte{0x0a, 3, 'c', 0xff, '1'} // Row.entity_key = "c\xff1"
	req := []byte{0x0a, 7, 'p', 'r', 'o', 'f', 'i', 'l', 'e'}
	req = append(req, 0x12, byte(len(row)))
	return append(req, row...)
}

// rawPost sends body as a Connect unary WriteFeatures call.
func rawPost(t *testing.T, s *server, body []byte) error {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+featurevaultv1connect.FeatureServiceWriteFeaturesProcedure, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = client.Headers(s.token, "analytics", false)
	req.Header.Set("Content-Type", "application/proto")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	if resp.StatusCode == http.StatusBadRequest {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(string(msg)))
	}
	return connect.NewError(connect.CodeUnknown, errors.New(resp.Status+": "+string(msg)))
}

func TestPlaintextRefusedOffLoopback(t *testing.T) {
	t.Parallel()
	s := rpc.NewServer(&rpc.Backend{}, rpc.WithLogger(quietLog))
	err := s.ListenAndServe(t.Context(), "0.0.0.0:0")
	if err == nil || !strings.Contains(err.Error(), "--tls-cert") {
		t.Fatalf("ListenAndServe on 0.0.0.0 = %v; want a refusal that names --tls-cert", err)
	}
}

func TestHealthCheckAnswersWithoutCredentials(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	for name, opts := range map[string][]connect.ClientOption{"connect": nil, "grpc": {connect.WithGRPC()}} {
		hc := connect.HTTPClient(http.DefaultClient)
		if name == "grpc" {
			hc = h2c
		}
		c := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](hc, s.url+rpc.HealthCheckProcedure, opts...)
		res, err := c.CallUnary(t.Context(), connect.NewRequest(&healthpb.HealthCheckRequest{Service: featurevaultv1connect.FeatureServiceName}))
		if err != nil || res.Msg.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("%s health check: %v, %v; want SERVING", name, res, err)
		}
		_, err = c.CallUnary(t.Context(), connect.NewRequest(&healthpb.HealthCheckRequest{Service: "nope.Service"}))
		if connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("%s health of an unknown service: %v, want NotFound", name, err)
		}
	}
}
