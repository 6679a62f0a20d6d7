package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/telemetry"
)

// checkTelemetryFlags refuses bad --metrics-listen, --otel-endpoint and
// --otel-sample-ratio values before serve opens anything. The metrics
// listener obeys the API's transport rule: metrics carry no secret, but
// they show the shape of the traffic, so plaintext is served on loopback
// only unless TLS is on (tlsOn: a certificate was given or will be made;
// the metrics are then served over TLS with the same certificate) or
// --allow-plaintext is given.
func checkTelemetryFlags(cfg serveConfig, tlsOn bool) error {
	if cfg.metricsListen != "" {
		if err := rpc.CheckListen(cfg.metricsListen, tlsOn, cfg.allowPlaintext); err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
	}
	if err := telemetry.CheckSampleRatio(cfg.otelSampleRatio); err != nil {
		return fmt.Errorf("--otel-sample-ratio: %w", err)
	}
	if cfg.otelEndpoint != "" {
		if _, err := telemetry.OTLPEndpoint(cfg.otelEndpoint); err != nil {
			return fmt.Errorf("--otel-endpoint: %w", err)
		}
	}
	return nil
}

// startTelemetry builds the server's telemetry from the flags: tracing to
// --otel-endpoint, and the metrics listener on --metrics-listen, whose URL
// it prints on stdout ("featurevault metrics on URL", so that a test that
// asked for port 0 learns it). The listener serves TLS with
// cfg.tlsCert/tlsKey when set (call it after a self-signed certificate is
// made); it asks no client certificate. It returns nil telemetry when both
// are off.
// stop shuts the metrics listener down and flushes the traces still
// queued, each within a few seconds; call it once the server has stopped.
func startTelemetry(ctx context.Context, cfg serveConfig, logger *slog.Logger, stdout io.Writer) (_ *telemetry.T, stop func(), err error) {
	stop = func() {}
	if cfg.metricsListen == "" && cfg.otelEndpoint == "" {
		return nil, stop, nil
	}
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	defer func() {
		if err != nil {
			stopAll()
		}
	}()

	var opts []telemetry.Option
	if cfg.otelEndpoint != "" {
		exp, err := telemetry.NewOTLPExporter(ctx, cfg.otelEndpoint)
		if err != nil {
			return nil, stop, fmt.Errorf("--otel-endpoint: %w", err)
		}
		tp, err := telemetry.NewTracerProvider(exp, cfg.otelSampleRatio)
		if err != nil {
			return nil, stop, fmt.Errorf("--otel-sample-ratio: %w", err)
		}
		stops = append(stops, func() {
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(flush); err != nil {
				logger.Warn("traces still queued were not all exported at shutdown", "error", err)
			}
		})
		opts = append(opts, telemetry.WithTracerProvider(tp))
		logger.Info("featurevault tracing", "collector", collectorHost(cfg.otelEndpoint), "sample_ratio", cfg.otelSampleRatio)
	}
	tel, err := telemetry.New(opts...)
	if err != nil {
		return nil, stop, err
	}

	if cfg.metricsListen != "" {
		var tlsConfig *tls.Config
		scheme := "http"
		if cfg.tlsCert != "" {
			cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
			if err != nil {
				return nil, stop, fmt.Errorf("--metrics-listen: load TLS certificate %s and key %s: %w", cfg.tlsCert, cfg.tlsKey, err)
			}
			tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			scheme = "https"
		}
		ln, err := net.Listen("tcp", cfg.metricsListen)
		if err != nil {
			return nil, stop, fmt.Errorf("--metrics-listen: listen on %s: %w", cfg.metricsListen, err)
		}
		mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := tel.ServeMetrics(mctx, ln, tlsConfig, logger); err != nil {
				logger.Error("metrics listener failed; the API is still served", "error", err)
			}
		})
		stops = append(stops, func() { cancel(); wg.Wait() })
		metricsURL := scheme + "://" + ln.Addr().String() + telemetry.MetricsPath
		logger.Info("featurevault metrics", "url", metricsURL)
		fmt.Fprintf(stdout, "featurevault metrics on %s\n", metricsURL)
	}
	return tel, stopAll, nil
}

// collectorHost is the scheme and host of a collector URL, for the log (its
// path and query stay out).
func collectorHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host
}
