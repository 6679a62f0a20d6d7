package telemetry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultSampleRatio is the share of calls traced when the operator gives
// none: one in a hundred, enough to see where time goes on a busy server
// without tracing being a load of its own. Use 1 while debugging.
const DefaultSampleRatio = 0.01

// ServiceName is the service.name of every span.
const ServiceName = "featurevault"

// allowedSpanAttributes are the only span attributes exported: what the
// connectrpc.com/otelconnect interceptor sets by default, none of which can
// carry a value, a key or a token. Add a key here only after checking that
// it never can.
var allowedSpanAttributes = map[attribute.Key]bool{
	"rpc.system.name":           true, // connectrpc or grpc
	"rpc.method":                true, // the procedure, e.g. featurevault.v1.FeatureService/GetOnlineFeatures
	"rpc.response.status_code":  true, // OK or the code's name
	"error.type":                true, // the code's name
	"http.response.status_code": true, // 304 for a cached GET
}

// NewTracerProvider returns a tracer provider that samples ratio of new
// traces (0 to 1; server spans always start a new trace, see the package
// doc) and exports them in batches to exp, keeping only the attributes in
// allowedSpanAttributes, no events and no status descriptions. The caller
// shuts it down (Shutdown flushes what is queued).
func NewTracerProvider(exp sdktrace.SpanExporter, ratio float64) (*sdktrace.TracerProvider, error) {
	if err := CheckSampleRatio(ratio); err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(redactingExporter{next: exp}),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(res),
	), nil
}

// CheckSampleRatio refuses a sampling ratio outside [0, 1].
func CheckSampleRatio(ratio float64) error {
	if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
		return fmt.Errorf("telemetry: sample ratio %g: give a fraction from 0 to 1 (%g traces one call in %g; 1 traces every call)", ratio, DefaultSampleRatio, 1/DefaultSampleRatio)
	}
	return nil
}

// OTLPEndpoint checks the URL of an OTLP/HTTP trace collector and returns
// the URL to export to: it must be http:// or https:// with a host, and
// carry no user name or password (a URL ends up in logs and process
// listings: give credentials in OTEL_EXPORTER_OTLP_HEADERS instead). A URL
// with no path gets the standard /v1/traces.
func OTLPEndpoint(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("telemetry: OTLP endpoint: %w; give a URL such as http://127.0.0.1:4318", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("telemetry: OTLP endpoint %q: use an http:// or https:// URL, such as http://127.0.0.1:4318", u.Redacted())
	case u.Host == "":
		return "", fmt.Errorf("telemetry: OTLP endpoint %q names no host; give one, such as http://127.0.0.1:4318", u.Redacted())
	case u.User != nil:
		return "", errors.New("telemetry: OTLP endpoint carries a user name or password; remove it and give credentials in OTEL_EXPORTER_OTLP_HEADERS")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return u.String(), nil
}

// NewOTLPExporter returns an exporter that sends spans to the OTLP/HTTP
// collector at endpoint (checked with OTLPEndpoint). It connects lazily:
// a collector that is down loses spans, never calls.
func NewOTLPExporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	u, err := OTLPEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u))
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	return exp, nil
}

// redactingExporter passes spans on with only the allowed attributes, no
// events and no status description.
type redactingExporter struct{ next sdktrace.SpanExporter }

func (e redactingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = redactedSpan{s}
	}
	return e.next.ExportSpans(ctx, out)
}

func (e redactingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

// redactedSpan is a span as exported: see redactingExporter.
type redactedSpan struct{ sdktrace.ReadOnlySpan }

func (s redactedSpan) Attributes() []attribute.KeyValue { return allowed(s.ReadOnlySpan.Attributes()) }

func (s redactedSpan) Events() []sdktrace.Event { return nil }

func (s redactedSpan) DroppedEvents() int {
	return s.ReadOnlySpan.DroppedEvents() + len(s.ReadOnlySpan.Events())
}

func (s redactedSpan) Links() []sdktrace.Link {
	links := s.ReadOnlySpan.Links()
	out := make([]sdktrace.Link, len(links))
	for i, l := range links {
		out[i] = sdktrace.Link{SpanContext: l.SpanContext, Attributes: allowed(l.Attributes)}
	}
	return out
}

func (s redactedSpan) Status() sdktrace.Status {
	st := s.ReadOnlySpan.Status()
	st.Description = ""
	return st
}

// allowed returns the attributes whose keys are in allowedSpanAttributes.
func allowed(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(attrs))
	for _, a := range attrs {
		if allowedSpanAttributes[a.Key] {
			out = append(out, a)
		}
	}
	return out
}
