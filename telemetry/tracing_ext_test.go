package telemetry_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/featurevault/featurevault/telemetry"
)

// exportedAttributes are the only span attribute keys that may be exported.
var exportedAttributes = []string{"rpc.system.name", "rpc.method", "rpc.response.status_code", "error.type", "http.response.status_code"}

// tracedT returns a T tracing every call into an in-memory exporter.
func tracedT(t *testing.T, ratio float64) (*telemetry.T, *sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp, err := telemetry.NewTracerProvider(exp, ratio)
	if err != nil {
		t.Fatalf("NewTracerProvider: %v", err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return newT(t, telemetry.WithTracerProvider(tp)), tp, exp
}

// TestSpansOnePerCallNamedByProcedureWithoutValues checks that every call
// gets exactly one server span named by its procedure, and that nothing a
// handler or an error could carry (the marker, in the bearer token, in an
// attribute, an event and an error message) reaches the exporter.
func TestSpansOnePerCallNamedByProcedureWithoutValues(t *testing.T) {
	t.Parallel()
	tel, tp, exp := tracedT(t, 1)
	c := serveTest(t, tel)
	ctx := t.Context()
	for _, text := range []string{"hello " + marker, "denied", "internal"} {
		_ = c.call(ctx, text) // the outcomes are checked through the spans
	}
	if n, err := c.streamCall(ctx, marker); n != 3 || err != nil {
		t.Fatalf("stream: %d messages, %v; want 3, nil", n, err)
	}
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	want := []string{streamProcedure[1:], unaryProcedure[1:], unaryProcedure[1:], unaryProcedure[1:]}
	if !slices.Equal(names, want) {
		t.Fatalf("span names = %q, want one per call: %q", names, want)
	}
	var internal int
	for _, s := range spans {
		if s.SpanKind != trace.SpanKindServer {
			t.Errorf("span %s kind = %v, want server", s.Name, s.SpanKind)
		}
		for _, a := range s.Attributes {
			if !slices.Contains(exportedAttributes, string(a.Key)) {
				t.Errorf("span %s exports attribute %s=%q; only %v may be exported", s.Name, a.Key, a.Value.String(), exportedAttributes)
			}
			if a.Key == "rpc.method" && a.Value.AsString() != s.Name {
				t.Errorf("span %s: rpc.method = %q, want the procedure", s.Name, a.Value.AsString())
			}
		}
		if len(s.Events) != 0 {
			t.Errorf("span %s exports %d events, want none", s.Name, len(s.Events))
		}
		if s.Status.Code == codes.Error {
			internal++
		}
		if s.Status.Description != "" {
			t.Errorf("span %s status description = %q, want it blank (error messages stay out of spans)", s.Name, s.Status.Description)
		}
		if dump := spanText(s); strings.Contains(dump, marker) {
			t.Errorf("span %s carries the marker:\n%s", s.Name, dump)
		}
	}
	if internal != 1 {
		t.Errorf("%d spans with status Error, want 1 (the internal error; permission denied is the caller's fault)", internal)
	}
}

// spanText is every string a span would export, for the marker search.
func spanText(s tracetest.SpanStub) string {
	var b strings.Builder
	b.WriteString(s.Name + "\n" + s.Status.Description + "\n")
	for _, a := range s.Attributes {
		b.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
	}
	for _, e := range s.Events {
		b.WriteString(e.Name + "\n")
		for _, a := range e.Attributes {
			b.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
		}
	}
	for _, l := range s.Links {
		for _, a := range l.Attributes {
			b.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
		}
	}
	for _, a := range s.Resource.Attributes() {
		b.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
	}
	return b.String()
}

// TestClientCannotForceSampling sends a traceparent that asks for sampling
// to a server that samples nothing: the server span starts a new trace
// (linked to the caller's), so the caller's flag does not decide.
func TestClientCannotForceSampling(t *testing.T) {
	t.Parallel()
	tel, tp, exp := tracedT(t, 0)
	c := serveTest(t, tel)
	req := connect.NewRequest(wrapperspb.String("hello"))
	req.Header().Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if _, err := c.unary.CallUnary(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if err := tp.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := len(exp.GetSpans()); got != 0 {
		t.Errorf("%d spans exported at sample ratio 0 for a caller asking to be sampled, want 0", got)
	}
}

// collector is an OTLP/HTTP collector on loopback that keeps what it gets.
type collector struct {
	mu       sync.Mutex
	requests []collected
}

type collected struct {
	method, path, contentType string
	body                      []byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.requests = append(c.requests, collected{r.Method, r.URL.Path, r.Header.Get("Content-Type"), body})
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// TestOTLPExportReachesCollector traces a call through the OTLP/HTTP
// exporter to a collector given with no path, and checks that shutting the
// provider down flushed the span to /v1/traces, without the marker.
func TestOTLPExportReachesCollector(t *testing.T) {
	t.Parallel()
	col := &collector{}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close)
	exp, err := telemetry.NewOTLPExporter(t.Context(), srv.URL)
	if err != nil {
		t.Fatalf("NewOTLPExporter(%s): %v", srv.URL, err)
	}
	tp, err := telemetry.NewTracerProvider(exp, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := serveTest(t, newT(t, telemetry.WithTracerProvider(tp)))
	if err := c.call(t.Context(), "hello "+marker); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown (flush): %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.requests) == 0 {
		t.Fatal("the collector received no export request")
	}
	var body []byte
	for _, r := range col.requests {
		if r.method != http.MethodPost || r.path != "/v1/traces" || r.contentType != "application/x-protobuf" {
			t.Errorf("export request %s %s (%s), want POST /v1/traces (application/x-protobuf)", r.method, r.path, r.contentType)
		}
		body = append(body, r.body...)
	}
	if !bytes.Contains(body, []byte(unaryProcedure[1:])) {
		t.Errorf("the exported spans do not name the procedure %s", unaryProcedure[1:])
	}
	if bytes.Contains(body, []byte(marker)) {
		t.Errorf("the exported spans carry the marker (a value or token)")
	}
}

func TestOTLPEndpoint(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want, wantErr string
	}{
		{in: "http://127.0.0.1:4318", want: "http://127.0.0.1:4318/v1/traces"},
		{in: "http://127.0.0.1:4318/", want: "http://127.0.0.1:4318/v1/traces"},
		{in: "https://otel.example.com/custom/traces", want: "https://otel.example.com/custom/traces"},
		{in: "127.0.0.1:4318", wantErr: "http://127.0.0.1:4318"},
		{in: "grpc://collector:4317", wantErr: "use an http:// or https:// URL"},
		{in: "http://", wantErr: "names no host"},
		{in: "http://user:s3cret@collector:4318", wantErr: "OTEL_EXPORTER_OTLP_HEADERS"},
		{in: "http://collector:4318/%zz", wantErr: "give a URL"},
	} {
		got, err := telemetry.OTLPEndpoint(tt.in)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("OTLPEndpoint(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("OTLPEndpoint(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("OTLPEndpoint(%q) error %q repeats the password", tt.in, err)
		}
	}
}

func TestCheckSampleRatio(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ratio float64
		ok    bool
	}{{0, true}, {0.01, true}, {1, true}, {-0.1, false}, {1.5, false}} {
		err := telemetry.CheckSampleRatio(tt.ratio)
		if (err == nil) != tt.ok {
			t.Errorf("CheckSampleRatio(%g) = %v, want ok %v", tt.ratio, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "from 0 to 1") {
			t.Errorf("CheckSampleRatio(%g) error %q does not say what to give", tt.ratio, err)
		}
	}
}
