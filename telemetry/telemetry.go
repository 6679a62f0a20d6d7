package telemetry

import (
	"fmt"
	"sync/atomic"

	"connectrpc.com/connect"
	"connectrpc.com/otelconnect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// T is a server's telemetry: its Prometheus registry, the counters the rpc
// package moves, and (when given a tracer provider) the OpenTelemetry
// interceptor. It is safe for concurrent use. The counting methods are
// safe on a nil *T and then do nothing, so a server without telemetry
// pays one nil check.
type T struct {
	reg       *prometheus.Registry
	rpc       *rpcMetrics
	decisions decisionCounters
	epsilon   prometheus.Counter
	erasures  prometheus.Counter
	sources   atomic.Pointer[Sources]
	otel      *otelconnect.Interceptor // nil: no tracing
}

// Option configures a T.
type Option func(*options)

type options struct {
	tracer trace.TracerProvider
}

// WithTracerProvider turns tracing on: every call the server serves gets a
// span from tp (see NewTracerProvider for one that exports over OTLP and
// keeps values out of spans). The caller shuts tp down, which flushes it.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// New returns a T with a fresh registry holding the Go runtime and process
// collectors and every featurevault_ series (see the package doc).
func New(opts ...Option) (*T, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	reg := prometheus.NewRegistry()
	t := &T{
		reg: reg,
		rpc: newRPCMetrics(),
		epsilon: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "featurevault_privacy_budget_spent_epsilon_total",
			Help: "Epsilon charged to privacy budgets by differentially private aggregates that were released (refunded charges excluded).",
		}),
		erasures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "featurevault_erasures_total",
			Help: "Data subjects erased by destroying their keys (crypto-shredding); a subject named twice in one request counts once.",
		}),
	}
	t.decisions = newDecisionCounters()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		t.rpc.requests, t.rpc.duration, t.decisions.vec, t.epsilon, t.erasures,
		sourcesCollector{t: t},
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("telemetry: register metrics: %w", err)
		}
	}
	if o.tracer != nil {
		ic, err := otelconnect.NewInterceptor(
			otelconnect.WithTracerProvider(o.tracer),
			otelconnect.WithoutMetrics(), // the Prometheus registry has them
			otelconnect.WithPropagator(propagation.TraceContext{}),
		)
		if err != nil {
			return nil, fmt.Errorf("telemetry: tracing interceptor: %w", err)
		}
		t.otel = ic
	}
	return t, nil
}

// Registry returns the registry holding every metric of t, for a handler
// (see Handler) or a test that gathers it.
func (t *T) Registry() *prometheus.Registry { return t.reg }

// Interceptors returns the Connect interceptors that measure every call: the
// tracing one (when t traces) outermost, then the metrics one. Put them
// before authentication, so that refused calls are measured too. A nil T
// returns none.
func (t *T) Interceptors() []connect.Interceptor {
	if t == nil {
		return nil
	}
	ics := make([]connect.Interceptor, 0, 2)
	if t.otel != nil {
		ics = append(ics, t.otel)
	}
	return append(ics, &metricsInterceptor{m: t.rpc})
}
