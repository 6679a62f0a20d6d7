package telemetry

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/featurevault/featurevault/internal/httpserve"
)

// MetricsPath is where the metrics listener serves the Prometheus text.
const MetricsPath = "/metrics"

// Handler returns the HTTP handler of t's metrics in the Prometheus
// exposition formats. It serves at most a few scrapes at once; a scrape
// that fails part-way serves what it could and logs nothing sensitive.
func (t *T) Handler() http.Handler {
	return promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// ServeMetrics serves t's metrics at MetricsPath on ln (every other path is
// 404) until ctx is done, then shuts down, waiting up to 5 s for a scrape in
// flight. With a non-nil tlsConfig it serves TLS. The caller decides
// whether ln may be plaintext (rpc.CheckListen): metrics carry no secret,
// but they show the shape of the traffic.
func (t *T) ServeMetrics(ctx context.Context, ln net.Listener, tlsConfig *tls.Config, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, t.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if tlsConfig != nil {
		srv.TLSConfig = tlsConfig
		ln = tls.NewListener(ln, tlsConfig)
	}
	if err := httpserve.Run(ctx, srv, ln, 5*time.Second); err != nil {
		return fmt.Errorf("telemetry: serve metrics: %w", err)
	}
	return nil
}
