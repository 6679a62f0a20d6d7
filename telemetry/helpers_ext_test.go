package telemetry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/featurevault/featurevault/telemetry"
)

// The tests serve a small Connect service over loopback, measured by a
// telemetry.T, whose handlers do what the request's text says.
const (
	unaryProcedure  = "/fvtest.v1.TestService/Unary"
	streamProcedure = "/fvtest.v1.TestService/Stream"
)

// marker is a stand-in for a feature value, an entity key or a token: it
// must never appear in a metric or a span.
const marker = "marker-c-4242-52000.5"

// testClients call the test service.
type testClients struct {
	unary  *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]
	stream *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]
}

// serveTest serves the test service measured by tel until the test ends.
//
// Unary answers "ok" with the request's text; "denied" with
// PermissionDenied; "internal" with an Internal error whose message holds
// marker, after trying to put marker on the span (as an attribute and an
// event). Stream sends three messages, or fails with NotFound on "missing".
func serveTest(t testing.TB, tel *telemetry.T) testClients {
	t.Helper()
	opts := connect.WithInterceptors(tel.Interceptors()...)
	mux := http.NewServeMux()
	mux.Handle(unaryProcedure, connect.NewUnaryHandler(unaryProcedure, func(ctx context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
		switch req.Msg.GetValue() {
		case "denied":
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("read denied on view v"))
		case "internal":
			span := trace.SpanFromContext(ctx)
			span.SetAttributes(attribute.String("feature.value", marker))
			span.AddEvent("value " + marker)
			return nil, connect.NewError(connect.CodeInternal, errors.New("broken at "+marker))
		}
		return connect.NewResponse(wrapperspb.String(req.Msg.GetValue())), nil
	}, opts))
	mux.Handle(streamProcedure, connect.NewServerStreamHandler(streamProcedure, func(ctx context.Context, req *connect.Request[wrapperspb.StringValue], s *connect.ServerStream[wrapperspb.StringValue]) error {
		if req.Msg.GetValue() == "missing" {
			return connect.NewError(connect.CodeNotFound, errors.New("no such view"))
		}
		for range 3 {
			if err := s.Send(wrapperspb.String(req.Msg.GetValue())); err != nil {
				return err
			}
		}
		return nil
	}, opts))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return testClients{
		unary:  connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+unaryProcedure),
		stream: connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+streamProcedure),
	}
}

// call makes one unary call with text, authenticating with marker as its
// bearer token, and returns its error.
func (c testClients) call(ctx context.Context, text string) error {
	req := connect.NewRequest(wrapperspb.String(text))
	req.Header().Set("Authorization", "Bearer "+marker)
	_, err := c.unary.CallUnary(ctx, req)
	return err
}

// streamCall makes one server-stream call with text, reads it to the end,
// and returns the number of messages and the stream's error.
func (c testClients) streamCall(ctx context.Context, text string) (int, error) {
	req := connect.NewRequest(wrapperspb.String(text))
	req.Header().Set("Authorization", "Bearer "+marker)
	s, err := c.stream.CallServerStream(ctx, req)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	n := 0
	for s.Receive() {
		n++
	}
	return n, s.Err()
}

// series reads every series of reg as "name{k=v,...}" -> value: a counter's
// or gauge's value, a histogram's sample count. Labels are in the order
// Prometheus sorts them (by name).
func series(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[seriesName(mf.GetName(), m.GetLabel())] = value(m)
		}
	}
	return out
}

func seriesName(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = l.GetName() + "=" + l.GetValue()
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return -1
}

// newT returns a T, failing the test if it cannot be built.
func newT(t testing.TB, opts ...telemetry.Option) *telemetry.T {
	t.Helper()
	tel, err := telemetry.New(opts...)
	if err != nil {
		t.Fatalf("telemetry.New: %v", err)
	}
	return tel
}
