package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// startServer serves a fresh backend in dir on a loopback port until the
// test ends, and returns its URL.
func startServer(t *testing.T, dir string) string {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := rpc.OpenBackend(t.Context(), dir, store.DefaultOptions(dir).WithLogger(quiet).WithSyncWrites(false), quiet)
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rpc.NewServer(b, rpc.WithLogger(quiet), rpc.WithRateLimit(0, 0)).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// startRedis starts redis-server on a free loopback port, without
// persistence, if it is installed; it returns "" otherwise.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Log("redis-server is not installed: the smoke test runs without the Redis comparison (scripts/bench.sh installs it)")
		return ""
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- true
				io.Copy(io.Discard, out)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("redis-server exited before it was ready")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server not ready after 10 s")
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// TestRunReportsEveryOperationWithoutErrors runs every phase but the
// profile for about a second in all, against an in-process server, and
// checks that the JSON report has every operation of every phase with
// successful requests and no errors, and the export, the Tink limit and
// the targets.
func TestRunReportsEveryOperationWithoutErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url := startServer(t, dir)
	redisAddr := startRedis(t)
	cfg := defaultRunConfig()
	cfg.target = url
	cfg.tokenFile = filepath.Join(dir, rpc.AdminTokenFile)
	cfg.redisAddr = redisAddr
	cfg.entities = 300
	cfg.seedBatch = 100
	cfg.phases = []string{phaseCompare, phaseScale, phaseMix, phaseExport}
	cfg.clients = 4
	cfg.duration = 600 * time.Millisecond // phases end at cfg.requests first; the time bound is for -race on a busy machine
	cfg.requests = 60
	cfg.rounds = 2
	cfg.warmup = 20 * time.Millisecond
	cfg.mix = "online1=4,online100=2,write=2,batch=1,aggregate=0"
	cfg.batchMaxRows = 100
	cfg.exportRuns = 1
	cfg.tinkKeys = 4
	cfg.jsonOut = filepath.Join(t.TempDir(), "fvbench.json")
	var out bytes.Buffer
	if _, err := runBench(t.Context(), cfg, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	data, err := os.ReadFile(cfg.jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}

	targets := []string{targetFV, targetNoop}
	if redisAddr != "" {
		targets = append(targets, targetRedis)
	}
	type key struct {
		phase, target string
		clients       int
	}
	want := map[key][]string{}
	for _, tg := range targets {
		want[key{onlineName(1), tg, 1}] = []string{onlineName(1)}
		want[key{onlineName(100), tg, 1}] = []string{onlineName(100)}
		want[key{onlineName(1), tg, cfg.clients}] = []string{onlineName(1)}
		want[key{fixedRateName, tg, cfg.clients}] = []string{onlineName(1)}
	}
	want[key{"mix", targetFV, cfg.clients}] = []string{onlineName(1), onlineName(100), "write-10x50", "batch-100rows"}
	want[key{mixNoBatchName, targetFV, cfg.clients}] = []string{onlineName(1), onlineName(100), "write-10x50"}
	got := map[key][]string{}
	for _, p := range rep.Phases {
		k := key{p.Name, p.Target, p.Clients}
		for _, o := range p.Ops {
			got[k] = append(got[k], o.Name)
			if o.Count == 0 || o.Errors != 0 {
				t.Errorf("%s on %s at %d clients, op %s: %d ok, %d errors (%q); want some ok and no errors", p.Name, p.Target, p.Clients, o.Name, o.Count, o.Errors, o.ErrorSamples)
			}
			if o.Latency.P50 <= 0 || o.Latency.P99 < o.Latency.P50 || o.Latency.Max < o.Latency.P99 {
				t.Errorf("%s on %s, op %s: latencies %+v are not ordered p50 <= p99 <= max", p.Name, p.Target, o.Name, o.Latency)
			}
		}
	}
	for k, ops := range want {
		if strings.Join(got[k], ",") != strings.Join(ops, ",") {
			t.Errorf("phase %s on %s at %d clients has ops %q, want %q", k.phase, k.target, k.clients, got[k], ops)
		}
	}
	if len(got) != len(want) {
		t.Errorf("report has %d phases, want %d: %v", len(got), len(want), got)
	}
	if rep.Export == nil || rep.Export.Rows < int64(cfg.entities) || rep.Export.ValuesPerSecond <= 0 {
		t.Errorf("export = %+v, want at least %d rows read", rep.Export, cfg.entities)
	}
	if rep.Export == nil || rep.Export.Identity == nil || rep.Export.Identity.Rows != rep.Export.Rows {
		t.Errorf("export = %+v, want the same export without gzip too", rep.Export)
	}
	if rep.TinkLimit == nil || rep.TinkLimit.OneCorePerSec <= 0 || rep.TinkLimit.DirectPerSec <= 0 || rep.TinkLimit.Values != rep.Export.Values {
		t.Errorf("tink limit = %+v, want a rate over the export's %d values", rep.TinkLimit, rep.Export.Values)
	}
	if len(rep.Targets) < 9 {
		t.Errorf("report has %d targets, want issue 13's (at least 9)", len(rep.Targets))
	}
	if p := rep.phase(onlineName(1), targetFV, 1); p == nil || len(p.PerRound) != cfg.rounds || p.Median == nil || p.Median.P50 <= 0 {
		t.Errorf("online 1×50 phase on FeatureVault = %+v; want %d rounds' figures and their medians", p, cfg.rounds)
	}
	if len(rep.Machine.GoVersion) == 0 || rep.Machine.NumCPU == 0 || len(rep.LoadAvgStart) != 3 {
		t.Errorf("machine = %+v, load average %v; want them described", rep.Machine, rep.LoadAvgStart)
	}

	// the markdown section renders from the report and replaces only itself
	md := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	other := "# Benchmarks\n\n## Someone else's section\n\nkeep me\n"
	if err := os.WriteFile(md, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMarkdown(markdownConfig{in: cfg.jsonOut, file: md}); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	// someone writes findings by hand; the next rewrite keeps them
	const note = "Badger's read transactions wait for synced commits."
	doc = []byte(strings.Replace(string(doc), "(No findings written yet.)", note, 1))
	if err := os.WriteFile(md, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMarkdown(markdownConfig{in: cfg.jsonOut, file: md}); err != nil {
		t.Fatal(err)
	}
	if doc, err = os.ReadFile(md); err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	if !strings.HasPrefix(text, "# Benchmarks\n\n"+SectionTitle) || !strings.HasSuffix(text, "## Someone else's section\n\nkeep me\n") ||
		strings.Count(text, SectionTitle) != 1 || !strings.Contains(text, "| online-1x50 |") || !strings.Contains(text, "### Medians of the") || !strings.Contains(text, note) {
		t.Errorf("BENCHMARKS.md after two rewrites:\n%s\nwant one fvbench section first, with the online tables and the findings kept, and the other section kept after it", text)
	}
}

func TestRunRefusesRemoteTargets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*runConfig)
	}{
		{"remote target", func(c *runConfig) { c.target = "http://10.1.2.3:8433" }},
		{"named host", func(c *runConfig) { c.target = "http://example.com:8433" }},
		{"remote redis", func(c *runConfig) { c.redisAddr = "192.0.2.1:6379" }},
		{"unbounded", func(c *runConfig) { c.duration, c.requests = 0, 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultRunConfig()
			cfg.token = "x"
			tc.edit(&cfg)
			if _, err := runBench(t.Context(), cfg, io.Discard); err == nil {
				t.Errorf("run with %s: got no error, want a refusal", tc.name)
			}
		})
	}
}

func TestMurmur3MatchesReference(t *testing.T) {
	t.Parallel()
	// reference values of MurmurHash3_x86_32 with seed 0 (as Python's
	// mmh3.hash(s, signed=False), which Feast uses)
	for _, tc := range []struct {
		in   string
		want uint32
	}{{"", 0}, {"hello", 0x248bfa47}, {"The quick brown fox jumps over the lazy dog", 0x2e4ff723}} {
		if got := murmur3([]byte(tc.in)); got != tc.want {
			t.Errorf("murmur3(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}
