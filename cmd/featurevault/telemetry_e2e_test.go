package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startServerWithMetrics runs "featurevault serve" with --metrics-listen
// 127.0.0.1:0 (and extra flags) and returns the server and the metrics URL
// it printed. stop shuts the server down and checks it stopped cleanly.
func startServerWithMetrics(t *testing.T, dir string, extra ...string) (srv testServer, metricsURL string, stop func()) {
	t.Helper()
	out, url, stop := serveOut(t, dir, append([]string{"--metrics-listen", "127.0.0.1:0"}, extra...)...)
	for _, line := range out {
		if u, ok := strings.CutPrefix(line, "featurevault metrics on "); ok {
			return testServer{url: url, dir: dir}, u, stop
		}
	}
	t.Fatalf("serve printed no \"featurevault metrics on URL\" line before it served:\n%s", strings.Join(out, "\n"))
	return testServer{}, "", nil
}

// scrape fetches the metrics page and returns its text and its samples as
// `name{labels}` -> value (lines as Prometheus writes them).
func scrape(t *testing.T, url string) (string, map[string]float64) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d, %v", url, res.StatusCode, err)
	}
	samples := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return string(body), samples
}

// TestMetricsAndTracesMeasureTheServerWithoutSecrets runs the real server
// with --metrics-listen and --otel-endpoint (a collector on loopback),
// makes allowed and denied reads, a DP aggregate and an erasure through
// the CLI, and checks that each moved its counters by exactly its share,
// that neither the metrics nor the exported traces carry a value, an
// entity key, a token or a principal's name, and that both stop with the
// server (the traces flushed).
func TestMetricsAndTracesMeasureTheServerWithoutSecrets(t *testing.T) {
	t.Parallel()
	col := &otlpCollector{}
	collector := httptest.NewServer(col)
	t.Cleanup(collector.Close)
	srv, metricsURL, stop := startServerWithMetrics(t, t.TempDir(), "--otel-endpoint", collector.URL, "--otel-sample-ratio", "1")
	if !strings.HasPrefix(metricsURL, "http://127.0.0.1:") || !strings.HasSuffix(metricsURL, "/metrics") {
		t.Fatalf("metrics URL %q, want http://127.0.0.1:PORT/metrics", metricsURL)
	}
	cli(t, srv, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, srv, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	bot := createPrincipal(t, srv, "gauge_bot", "--role", "gauge_reader", "--attr", "purpose=analytics")
	cli(t, srv, nil, "policy", "grant", "gauge_reader", "--action", "read", "--on", "customer_profile.age", "--purpose", "analytics")
	cli(t, srv, nil, "policy", "grant", "gauge_reader", "--action", "aggregate", "--on", "customer_profile.income", "--purpose", "analytics")
	cli(t, srv, nil, "budget", "set", "gauge_bot", "--epsilon", "1")
	_, before := scrape(t, metricsURL)

	botArgs := []string{"--token", bot, "--purpose", "analytics"}
	out := cli(t, srv, nil, append(botArgs, "get", "--view", "customer_profile", "--entity", "c-42", "--features", "age,email", "-o", "json")...)
	if st := statuses(t, out)["c-42"]; st["age"] != "PRESENT" || st["email"] != "DENIED" {
		t.Fatalf("bot's read of age,email: %v, want age PRESENT, email DENIED", st)
	}
	cli(t, srv, nil, "--purpose", "analytics", "get", "--view", "customer_profile", "--entity", "c-42", "--features", "age,income", "-o", "json")
	cli(t, srv, nil, append(botArgs, "query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "count", "--epsilon", "0.25")...)
	cli(t, srv, nil, "erase", "--entity", "customer", "--key", "c-7")
	text, after := scrape(t, metricsURL)

	const (
		online    = `procedure="/featurevault.v1.FeatureService/GetOnlineFeatures"`
		aggregate = `procedure="/featurevault.v1.FeatureService/Aggregate"`
		erase     = `procedure="/featurevault.v1.AdminService/Erase"`
	)
	for _, tt := range []struct {
		series string
		delta  float64
	}{
		{`featurevault_rpc_requests_total{code="ok",` + online + `}`, 2},
		{`featurevault_rpc_requests_total{code="ok",` + aggregate + `}`, 1},
		{`featurevault_rpc_requests_total{code="ok",` + erase + `}`, 1},
		{`featurevault_rpc_duration_seconds_count{` + online + `}`, 2},
		{`featurevault_policy_decisions_total{action="read",effect="allowed"}`, 1 + 2},
		{`featurevault_policy_decisions_total{action="read",effect="denied"}`, 1},
		{`featurevault_policy_decisions_total{action="aggregate",effect="allowed"}`, 1},
		{`featurevault_policy_decisions_total{action="aggregate",effect="denied"}`, 0},
		{`featurevault_privacy_budget_spent_epsilon_total`, 0.25},
		{`featurevault_erasures_total`, 1},
	} {
		if got := after[tt.series] - before[tt.series]; got != tt.delta {
			t.Errorf("%s moved by %v (%v -> %v), want %v", tt.series, got, before[tt.series], after[tt.series], tt.delta)
		}
	}
	for _, series := range []string{"featurevault_key_cache_hits_total", `featurevault_kms_calls_total{op="unwrap"}`, "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after[series]; !ok {
			t.Errorf("the scrape has no %s", series)
		}
	}
	if got := after["featurevault_audit_records_total"] - before["featurevault_audit_records_total"]; got < 4 {
		t.Errorf("featurevault_audit_records_total moved by %v, want at least 4 (one per audited call)", got)
	}
	admin := srv.adminToken(t)
	secrets := []string{"c-42", "c-7", "a@example.com", "52000.5", bot, admin, "gauge_bot"}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("the metrics carry %q (a value, entity key, token or principal name)", s)
		}
	}

	stop()
	if _, err := http.Get(metricsURL); err == nil {
		t.Errorf("the metrics listener still answers after the server stopped")
	}
	exports := col.bodies()
	if len(exports) == 0 {
		t.Fatal("the OTLP collector received no traces (they should be flushed at shutdown)")
	}
	all := bytes.Join(exports, nil)
	if !bytes.Contains(all, []byte("featurevault.v1.FeatureService/GetOnlineFeatures")) {
		t.Errorf("the exported traces have no GetOnlineFeatures span")
	}
	for _, s := range secrets {
		if bytes.Contains(all, []byte(s)) {
			t.Errorf("the exported traces carry %q", s)
		}
	}
}

// otlpCollector is an OTLP/HTTP trace collector: it keeps the body of every
// POST to /v1/traces.
type otlpCollector struct {
	mu  sync.Mutex
	got [][]byte
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
		c.got = append(c.got, body)
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *otlpCollector) bodies() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got
}

// TestServeRefusesBadTelemetryFlagsAndChangesNothing checks each bad
// --metrics-listen, --otel-endpoint and --otel-sample-ratio is refused with
// an error naming the flag and what to give, before the data directory is
// created.
func TestServeRefusesBadTelemetryFlagsAndChangesNothing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--metrics-listen", "0.0.0.0:9464"}, []string{"--metrics-listen", "not a loopback address", "--allow-plaintext"}},
		{[]string{"--metrics-listen", "9464"}, []string{"--metrics-listen", "host:port"}},
		{[]string{"--otel-sample-ratio", "1.5"}, []string{"--otel-sample-ratio", "from 0 to 1"}},
		{[]string{"--otel-sample-ratio", "-1"}, []string{"--otel-sample-ratio", "from 0 to 1"}},
		{[]string{"--otel-endpoint", "collector:4318"}, []string{"--otel-endpoint", "http://"}},
		{[]string{"--otel-endpoint", "http://u:hunter2@collector:4318"}, []string{"--otel-endpoint", "OTEL_EXPORTER_OTLP_HEADERS"}},
	} {
		stderr := serveRefused(t, append([]string{"--listen", "127.0.0.1:0"}, tt.args...)...)
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("serve %v: stderr %q, want it to contain %q", tt.args, stderr, w)
			}
		}
		if strings.Contains(stderr, "hunter2") {
			t.Errorf("serve %v: stderr %q repeats the password", tt.args, stderr)
		}
	}
}

// TestMetricsServedOverTLSWithTheServersCertificate serves with a
// certificate and checks that the metrics listener speaks TLS with it (and
// not plaintext), as the URL it prints says.
func TestMetricsServedOverTLSWithTheServersCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, pool := loopbackCert(t, t.TempDir())
	_, metricsURL, _ := startServerWithMetrics(t, dir, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(metricsURL, "https://127.0.0.1:") {
		t.Fatalf("metrics URL %q, want https://127.0.0.1:PORT/metrics", metricsURL)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	res, err := client.Get(metricsURL)
	if err != nil {
		t.Fatalf("GET %s: %v", metricsURL, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "featurevault_policy_decisions_total") {
		t.Errorf("GET %s over TLS: status %d, body without featurevault_ series", metricsURL, res.StatusCode)
	}
	plain := "http://" + strings.TrimPrefix(metricsURL, "https://")
	if res, err := http.Get(plain); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Errorf("GET %s in plaintext: status 200, want the TLS listener to refuse it", plain)
		}
	}
}

// loopbackCert writes a self-signed certificate for 127.0.0.1 and its key
// to dir and returns their paths and a pool trusting it.
func loopbackCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "featurevault test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(leaf)
	return certFile, keyFile, pool
}
