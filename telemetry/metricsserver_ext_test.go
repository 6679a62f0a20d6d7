package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/policy"
)

// TestServeMetricsOnItsOwnListener serves the metrics on loopback, scrapes
// them over HTTP, and checks the text, the 404 elsewhere and the shutdown.
func TestServeMetricsOnItsOwnListener(t *testing.T) {
	t.Parallel()
	tel := newT(t)
	tel.Decided(policy.ActionRead, 2, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- tel.ServeMetrics(ctx, ln, nil, slog.New(slog.DiscardHandler)) }()
	base := "http://" + ln.Addr().String()

	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, want 200", code)
	}
	for _, want := range []string{
		`featurevault_policy_decisions_total{action="read",effect="allowed"} 2`,
		`featurevault_policy_decisions_total{action="read",effect="denied"} 1`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics does not contain %q", want)
		}
	}
	if code, _ := get("/"); code != http.StatusNotFound {
		t.Errorf("GET /: status %d, want 404 (only /metrics is served)", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeMetrics after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeMetrics did not return within 10s of cancel")
	}
	if _, err := http.Get(base + "/metrics"); err == nil {
		t.Errorf("GET /metrics after shutdown succeeded, want the listener closed")
	}
}
