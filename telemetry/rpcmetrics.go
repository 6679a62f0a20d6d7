package telemetry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// DurationBuckets are the upper bounds, in seconds, of
// featurevault_rpc_duration_seconds: from 100 µs, where an online read of a
// few cached entities lands, to two minutes, where a large Arrow export or
// ingest stream ends.
var DurationBuckets = []float64{
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
}

// numCodes is the number of outcomes: ok, then the 16 Connect codes.
const numCodes = 17

// codeLabels are the values of the code label: "ok", then each Connect code
// by its name ("permission_denied", ...). Any other code counts as unknown.
var codeLabels = func() [numCodes]string {
	var l [numCodes]string
	l[0] = "ok"
	for c := connect.CodeCanceled; c <= connect.CodeUnauthenticated; c++ {
		l[c] = c.String()
	}
	return l
}()

// rpcMetrics are the per-call series. Each procedure's series are resolved
// once, the first time it is served, and kept in procs (procedure names
// come only from the handlers the server registered, so procs is bounded).
type rpcMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	procs    sync.Map // procedure -> *procMetrics
}

// procMetrics are one procedure's resolved series.
type procMetrics struct {
	procedure string
	duration  prometheus.Observer
	codes     [numCodes]atomic.Pointer[prometheus.Counter] // resolved on first use
}

func newRPCMetrics() *rpcMetrics {
	return &rpcMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "featurevault_rpc_requests_total",
			Help: "Calls served, by procedure and outcome (ok or the Connect code of the error).",
		}, []string{"procedure", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "featurevault_rpc_duration_seconds",
			Help:    "Time to serve a call, from the interceptor to the answer; for a stream, its whole life.",
			Buckets: DurationBuckets,
		}, []string{"procedure"}),
	}
}

// of returns the series of procedure.
func (m *rpcMetrics) of(procedure string) *procMetrics {
	if p, ok := m.procs.Load(procedure); ok {
		return p.(*procMetrics)
	}
	p, _ := m.procs.LoadOrStore(procedure, &procMetrics{
		procedure: procedure,
		duration:  m.duration.WithLabelValues(procedure),
	})
	return p.(*procMetrics)
}

// observe records one call of p that started at start and ended with err.
func (m *rpcMetrics) observe(p *procMetrics, start time.Time, err error) {
	p.duration.Observe(time.Since(start).Seconds())
	code := 0
	if err != nil {
		code = int(connect.CodeOf(err))
		if code <= 0 || code >= numCodes {
			code = int(connect.CodeUnknown)
		}
	}
	c := p.codes[code].Load()
	if c == nil {
		rc := m.requests.WithLabelValues(p.procedure, codeLabels[code])
		c = &rc
		p.codes[code].Store(c)
	}
	(*c).Inc()
}

// metricsInterceptor counts and times every call a server handles, unary
// and streaming; calls a client makes pass through.
type metricsInterceptor struct{ m *rpcMetrics }

func (i *metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		p := i.m.of(req.Spec().Procedure)
		start := time.Now()
		res, err := next(ctx, req)
		i.m.observe(p, start, err)
		return res, err
	}
}

func (i *metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		p := i.m.of(conn.Spec().Procedure)
		start := time.Now()
		err := next(ctx, conn)
		i.m.observe(p, start, err)
		return err
	}
}
