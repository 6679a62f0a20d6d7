package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/loadgen"
	"github.com/featurevault/featurevault/rpc"
)

// soakFor is the length of TestSoak's measured run:
//
//	go test ./cmd/fvbench -run TestSoak -soak=5m -timeout 15m
var soakFor = flag.Duration("soak", 20*time.Second, "length of TestSoak's measured run (-short skips it)")

// serveEnv, when set, makes the test binary run "fvbench serve" with the
// arguments in it instead of the tests: the soak's server is a process of
// its own, so its goroutines and heap are the server's alone.
const serveEnv = "FVBENCH_TEST_SERVE"

func TestMain(m *testing.M) {
	if args := os.Getenv(serveEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		root := newRootCmd()
		root.SetArgs(strings.Split(args, "\x1f"))
		err := root.ExecuteContext(ctx)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "fvbench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveProcess starts "fvbench serve" on dir in a child process that
// dies with the test, and returns its URL, its pprof URL and its PID.
func serveProcess(t *testing.T, dir string) (url, pprofURL string, pid int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), serveEnv+"="+strings.Join([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--pprof", "127.0.0.1:0"}, "\x1f"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the server exited with %v; stderr:\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Error("the server did not stop within 15 s of SIGTERM")
		}
	})
	urls := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var u [2]string
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "featurevault serving on "); ok {
				u[0] = v
			}
			if v, ok := strings.CutPrefix(sc.Text(), "pprof on "); ok {
				u[1] = v
			}
			if u[0] != "" && u[1] != "" {
				urls <- u
				u = [2]string{}
			}
		}
	}()
	select {
	case u := <-urls:
		return u[0], u[1], cmd.Process.Pid
	case <-time.After(30 * time.Second):
		t.Fatalf("the server printed no URLs within 30 s; stderr:\n%s", stderr.String())
	}
	return "", "", 0
}

// TestSoakKeepsGoroutinesAndHeapFlat runs "fvbench soak" against a real
// server in its own process for -soak (20 s by default): mixed traffic of
// online reads, writes, batch reads, whole-view exports, private
// aggregates, denied and malformed requests. It passes when no operation
// failed unexpectedly, every refusal had its expected code, and at every
// quiet checkpoint (load paused) the server's goroutines were back to
// where they were after warm-up and its retained heap stayed flat
// (SoakReport.evaluate states the criteria and why).
func TestSoakKeepsGoroutinesAndHeapFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the soak runs for 20 s or more")
	}
	t.Parallel()
	dir := t.TempDir()
	url, pprofURL, pid := serveProcess(t, dir)
	cfg := defaultSoakConfig()
	cfg.target, cfg.pprofURL, cfg.serverPID = url, pprofURL, pid
	cfg.tokenFile = filepath.Join(dir, rpc.AdminTokenFile)
	cfg.duration = *soakFor
	cfg.warmup = min(max(cfg.duration/5, 4*time.Second), 30*time.Second)
	cfg.interval = min(max(cfg.duration/30, 500*time.Millisecond), 30*time.Second)
	cfg.entities, cfg.clients = 1000, 8
	cfg.jsonOut = filepath.Join(t.TempDir(), "soak.json")
	var out bytes.Buffer
	rep, err := runSoak(t.Context(), cfg, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("soak: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("soak: %s", p)
	}
	want := []string{"online-1x50", "online-100x50", "write-10x50", "batch-500rows", "batch-all", "aggregate-count", "denied", "bad"}
	var got []string
	for _, o := range rep.Ops {
		got = append(got, o.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("soak ran ops %q, want %q", got, want)
	}
	if len(rep.Checkpoints) != 1+soakSegments(cfg.duration) {
		t.Errorf("%d quiet checkpoints, want %d: one after warm-up and one per segment", len(rep.Checkpoints), 1+soakSegments(cfg.duration))
	}
	if rep.Start.Goroutines < 10 || rep.Start.HeapLive < 1<<20 || rep.End.Goroutines < 10 {
		t.Errorf("quiet samples %+v and %+v: want a server's goroutines and heap, read from pprof", rep.Start, rep.End)
	}
	if len(rep.Refusals) != 11 {
		t.Errorf("%d kinds of refusal counted, want 11 (5 denied, 6 bad)", len(rep.Refusals))
	}
	if _, err := os.Stat(cfg.jsonOut); err != nil {
		t.Errorf("JSON report: %v", err)
	}
}

// TestSoakEvaluateFlagsLeaksAndErrors checks the pass criteria on made-up
// reports: a clean run passes, and so do a small heap's noise, Badger's
// block cache filling up and wild samples under load; a retained heap
// that grows from checkpoint to checkpoint, goroutines left behind, an
// unexpected error, a kind of refusal never seen or too few checkpoints
// each fail with a problem that names it.
func TestSoakEvaluateFlagsLeaksAndErrors(t *testing.T) {
	t.Parallel()
	cfg := defaultSoakConfig()
	const mb = 1 << 20
	checkpoints := func(heap func(i int) uint64) []ServerSample {
		s := make([]ServerSample, 11)
		for i := range s {
			s[i] = ServerSample{AtS: float64(30 * i), Goroutines: 56 + i%3, HeapLive: heap(i), Quiet: true}
		}
		return s
	}
	clean := func() *SoakReport {
		r := &SoakReport{
			Ops:         []loadgen.OpResult{{Name: "online-1x50", Count: 1000}, {Name: "denied", Count: 50}},
			Refusals:    []RefusalCount{{Op: "denied", Case: "forged token", Code: "unauthenticated", Count: 50}},
			Checkpoints: checkpoints(func(i int) uint64 { return uint64(260*mb + (i%3)*mb) }),
		}
		for i := range 30 {
			r.Samples = append(r.Samples, ServerSample{Goroutines: 90, HeapLive: uint64(300*mb + (i%5)*100*mb)})
		}
		return r
	}
	for _, tc := range []struct {
		name string
		edit func(*SoakReport)
		want string // a word of the problem; "" for a pass
	}{
		{"clean run", func(*SoakReport) {}, ""},
		{"noise of a small heap", func(r *SoakReport) {
			r.Checkpoints = checkpoints(func(i int) uint64 { return uint64(8*mb + (i%2)*3*mb) })
		}, ""},
		{"Badger block cache fills", func(r *SoakReport) {
			for i := range r.Checkpoints {
				r.Checkpoints[i].BlockCache = uint64(i) * 20 * mb
				r.Checkpoints[i].HeapLive += r.Checkpoints[i].BlockCache
			}
		}, ""},
		{"samples under load double", func(r *SoakReport) {
			for i := range r.Samples[20:] {
				r.Samples[20+i].HeapLive *= 2
			}
		}, ""},
		{"one checkpoint mid memtable swap", func(r *SoakReport) { r.Checkpoints[10].HeapLive += 64 * mb }, ""},
		{"retained heap grows 8 MiB per checkpoint", func(r *SoakReport) {
			r.Checkpoints = checkpoints(func(i int) uint64 { return uint64(260*mb + i*8*mb) })
		}, "heap"},
		{"goroutines left behind", func(r *SoakReport) { r.Checkpoints[5].Goroutines = 56 + cfg.goroutineSlack + 1 }, "goroutines"},
		{"unexpected error", func(r *SoakReport) { r.Ops[0].Errors, r.Ops[0].ErrorSamples = 1, []string{"internal: boom"} }, "unexpected errors"},
		{"refusal never seen", func(r *SoakReport) { r.Refusals[0].Count = 0 }, "never refused"},
		{"op never succeeded", func(r *SoakReport) { r.Ops[1].Count = 0 }, "no operation succeeded"},
		{"too few checkpoints", func(r *SoakReport) { r.Checkpoints = r.Checkpoints[:2] }, "checkpoints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := clean()
			tc.edit(r)
			r.evaluate(cfg)
			got := strings.Join(r.Problems, "; ")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("problems %q, want none", got)
			case tc.want != "" && (len(r.Problems) != 1 || !strings.Contains(got, tc.want)):
				t.Errorf("problems %q, want exactly one mentioning %q", got, tc.want)
			}
		})
	}
}
