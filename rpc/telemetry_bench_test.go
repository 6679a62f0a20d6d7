package rpc_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/featurevault/featurevault/internal/benchdata"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/telemetry"
)

// BenchmarkTelemetryOverhead reads 1 entity × 50 fields over Connect on
// loopback from one backend served four ways, in the same run: without
// telemetry, with metrics, and with metrics and tracing at the default
// sample ratio and at 1 (every call traced, spans batched to an exporter
// that drops them), so the cost of each layer is read off directly.
//
//	go test ./rpc -run '^$' -bench TelemetryOverhead -benchtime 5000x -count 3
func BenchmarkTelemetryOverhead(b *testing.B) {
	s := startServer(b, b.TempDir(), rpc.WithRateLimit(0, 0))
	if err := benchdata.Load(s.store, benchEntities); err != nil {
		b.Fatal(err)
	}
	syncViews(b, s)
	traced := func(ratio float64) *telemetry.T {
		tp, err := telemetry.NewTracerProvider(tracetest.NewNoopExporter(), ratio)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		tel, err := telemetry.New(telemetry.WithTracerProvider(tp))
		if err != nil {
			b.Fatal(err)
		}
		return tel
	}
	metricsOnly, err := telemetry.New()
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, target := range []struct {
		name string
		url  string
	}{
		{"none", s.url},
		{"metrics", serveAlso(b, s.backend, rpc.WithTelemetry(metricsOnly))},
		{"metrics+traces-0.01", serveAlso(b, s.backend, rpc.WithTelemetry(traced(telemetry.DefaultSampleRatio)))},
		{"metrics+traces-1", serveAlso(b, s.backend, rpc.WithTelemetry(traced(1)))},
	} {
		fc := featurevaultv1connect.NewFeatureServiceClient(client, target.url, s.as(s.token, "analytics"))
		b.Run("entities=1/fields=50/telemetry="+target.name, func(b *testing.B) {
			ctx := context.Background()
			var lat benchdata.Latencies
			i := 0
			for b.Loop() {
				r := &fvv1.GetOnlineFeaturesRequest{View: benchdata.View, EntityKeys: benchdata.Keys(i%benchEntities, 1)}
				lat.Time(func() {
					if _, err := fc.GetOnlineFeatures(ctx, connect.NewRequest(r)); err != nil {
						b.Fatal(err)
					}
				})
				i++
			}
			lat.Report(b)
		})
	}
}

// serveAlso serves backend with another server (other options) on its own
// loopback port, stopped before the backend closes.
func serveAlso(b *testing.B, backend *rpc.Backend, opts ...rpc.Option) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- rpc.NewServer(backend, append([]rpc.Option{rpc.WithLogger(quietLog), rpc.WithRateLimit(0, 0)}, opts...)...).Serve(ctx, ln)
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
