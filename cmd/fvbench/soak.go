package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/internal/loadgen"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// soakConfig is what "fvbench soak" does: a long, bounded run of mixed
// traffic against one server, watching the server's goroutines and live
// heap for leaks.
type soakConfig struct {
	target    string
	token     string
	tokenFile string
	pprofURL  string
	serverPID int

	entities  int
	clients   int
	duration  time.Duration
	warmup    time.Duration
	interval  time.Duration // between samples under load (0: duration/30, within 1 s..30 s)
	settle    time.Duration // how long goroutines get to wind down once load stops
	mix       string
	writeRows int
	versions  int // event times a write picks from
	batchRows int

	goroutineSlack int     // goroutines a quiet checkpoint may have above the first
	heapGrowth     float64 // allowed growth of the retained heap, first checkpoint to last (0.20: 20 %)
	heapFloor      uint64  // bytes of growth always allowed (noise of a small heap)

	jsonOut string
	seedRNG uint64
}

func defaultSoakConfig() soakConfig {
	return soakConfig{
		target:         "http://127.0.0.1:8433",
		entities:       2000,
		clients:        16,
		duration:       5 * time.Minute,
		warmup:         15 * time.Second,
		settle:         10 * time.Second,
		mix:            "online1=55,online100=8,write=14,batch=3,export=1,aggregate=1,denied=9,bad=9",
		writeRows:      10,
		versions:       8,
		batchRows:      500,
		goroutineSlack: 10,
		heapGrowth:     0.20,
		heapFloor:      4 << 20,
		jsonOut:        "fvbench-soak.json",
		seedRNG:        1,
	}
}

// SoakReport is what a soak measured, as written to --json.
type SoakReport struct {
	Schema       string    `json:"schema"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	Machine      Machine   `json:"machine"`
	LoadAvgStart []float64 `json:"load_avg_start"`
	LoadAvgEnd   []float64 `json:"load_avg_end"`
	Config       struct {
		Target    string  `json:"target"`
		Entities  int     `json:"entities"`
		Clients   int     `json:"clients"`
		DurationS float64 `json:"duration_s"`
		WarmupS   float64 `json:"warmup_s"`
		IntervalS float64 `json:"sample_interval_s"`
		Mix       string  `json:"mix"`
	} `json:"config"`
	ElapsedS float64            `json:"elapsed_s"`
	Ops      []loadgen.OpResult `json:"ops"`
	// Refusals counts, per kind, the denied and malformed requests that
	// were refused exactly as expected (each is also a successful "denied"
	// or "bad" operation in Ops).
	Refusals []RefusalCount `json:"refusals"`
	// Checkpoints are quiet samples, taken with the load paused and its
	// idle connections closed: the first after warm-up, then one after
	// each segment of the run. Start and End are the first and the last.
	Checkpoints []ServerSample `json:"checkpoints"`
	Start       ServerSample   `json:"start"`
	End         ServerSample   `json:"end"`
	// Samples are taken under load, every sample interval. They are
	// reported, not judged: see evaluate.
	Samples []ServerSample `json:"samples"`
	// HeapMedianFirst and HeapMedianLast are the medians of the live heap
	// over the first and the last third of Samples.
	HeapMedianFirst uint64   `json:"heap_under_load_first_third_median_bytes"`
	HeapMedianLast  uint64   `json:"heap_under_load_last_third_median_bytes"`
	Problems        []string `json:"problems,omitempty"`
}

// soakSchema versions the JSON report.
const soakSchema = "fvbench-soak/1"

// runSoak seeds the benchmark view (entities × 50 fields; skipped when the
// server already holds it), creates its principals, warms the server up,
// takes a quiet checkpoint, then runs the mix for cfg.duration in
// segments (soakSegments), sampling the server every cfg.interval under
// load and taking a quiet checkpoint after each segment. It prints a
// summary to out, writes the JSON report and returns it; the report's
// Problems say which pass criterion failed (see evaluate). An error means
// the soak could not run at all.
func runSoak(ctx context.Context, cfg soakConfig, out io.Writer) (*SoakReport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	rc := runConfig{token: cfg.token, tokenFile: cfg.tokenFile}
	adminToken, err := rc.credential()
	if err != nil {
		return nil, err
	}
	if cfg.interval <= 0 {
		cfg.interval = min(max(cfg.duration/30, time.Second), 30*time.Second)
	}
	rep := &SoakReport{
		Schema: soakSchema, Started: time.Now().UTC(), LoadAvgStart: loadAvg(),
		Machine: Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH},
	}
	rep.Config.Target, rep.Config.Entities, rep.Config.Clients, rep.Config.Mix = cfg.target, cfg.entities, cfg.clients, cfg.mix
	rep.Config.DurationS, rep.Config.WarmupS, rep.Config.IntervalS = cfg.duration.Seconds(), cfg.warmup.Seconds(), cfg.interval.Seconds()

	hc := newHTTPClient(cfg.clients + 4)
	admin := featurevaultv1connect.NewAdminServiceClient(hc, cfg.target, withHeaders(adminToken, ""))
	allowedToken, deniedToken, err := soakSetup(ctx, admin)
	if err != nil {
		return nil, err
	}
	p := newSoakPrincipals(cfg.target, allowedToken, deniedToken, cfg.entities, hc)
	fmt.Fprintf(out, "soak: seeding %d entities × %d fields (skipped if present)...\n", cfg.entities, benchdata.Fields)
	if _, _, err := seedFV(ctx, admin, p.allowed, 500, 2); err != nil {
		return nil, err
	}
	denied, bad := p.deniedCases(), p.badCases()
	mix, err := cfg.parseMix(p, denied, bad)
	if err != nil {
		return nil, err
	}
	sampler := newPprofSampler(cfg.pprofURL, cfg.serverPID)

	// Warm-up: connections, caches (the whole view is read once), Badger's
	// memtables and the Go runtime reach their working size.
	fmt.Fprintf(out, "soak: warm-up %s at %d clients\n", cfg.warmup, cfg.clients)
	if _, _, err := p.allowed.readBatches(ctx, 0, 0); err != nil {
		return nil, fmt.Errorf("warm-up export: %w", err)
	}
	if _, err := loadgen.Run(ctx, loadgen.Config{Clients: cfg.clients, Duration: cfg.warmup, Seed: cfg.seedRNG + 1e6}, mix); err != nil {
		return nil, err
	}
	if rep.Start, err = quietSample(ctx, sampler, hc, cfg.settle, -1); err != nil {
		return nil, err
	}
	rep.Checkpoints = []ServerSample{rep.Start}
	for _, c := range slices.Concat(denied, bad) {
		c.count.Store(0) // count the measured run only
	}
	fmt.Fprintf(out, "soak: quiet start: %d goroutines, live heap %.1f MiB of which Badger block caches %.1f MiB\n", rep.Start.Goroutines, mib(rep.Start.HeapLive), mib(rep.Start.BlockCache))

	// The measured run, in segments: sampled under load, with a quiet
	// checkpoint after each.
	start := time.Now()
	segments := soakSegments(cfg.duration)
	var results []*loadgen.Result
	for seg := range segments {
		lc := loadgen.Config{Clients: cfg.clients, Duration: cfg.duration / time.Duration(segments), Seed: cfg.seedRNG + uint64(seg)} // #nosec G115 -- seg is a small loop index
		res, err := runSampled(ctx, lc, mix, sampler, cfg.interval, start, rep, out)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
		cp, err := quietSample(ctx, sampler, hc, cfg.settle, rep.Start.Goroutines+cfg.goroutineSlack)
		if err != nil {
			return nil, err
		}
		cp.AtS = time.Since(start).Seconds()
		rep.Checkpoints = append(rep.Checkpoints, cp)
		fmt.Fprintf(out, "soak: %6.0f s  quiet checkpoint: %d goroutines, retained heap %.1f MiB, block caches %.1f MiB\n", cp.AtS, cp.Goroutines, mib(cp.retained()), mib(cp.BlockCache))
	}
	res := loadgen.Merge(results...)
	rep.ElapsedS = time.Since(start).Seconds()
	rep.Ops = res.Ops
	rep.Refusals = append(refusalCounts("denied", denied), refusalCounts("bad", bad)...)
	rep.End = rep.Checkpoints[len(rep.Checkpoints)-1]
	rep.LoadAvgEnd = loadAvg()
	rep.Finished = time.Now().UTC()
	rep.evaluate(cfg)
	rep.print(out)
	if cfg.jsonOut != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(cfg.jsonOut, append(data, '\n'), 0o644); err != nil { // #nosec G306 -- a benchmark report, meant to be shared
			return nil, err
		}
		fmt.Fprintf(out, "wrote %s\n", cfg.jsonOut)
	}
	return rep, nil
}

// soakSegments is how many segments a run of d is cut into, each ending
// in a quiet checkpoint: one per 30 s, at least 3 and at most 20.
func soakSegments(d time.Duration) int {
	return int(min(max(d/(30*time.Second), 3), 20))
}

// runSampled runs the mix under lc and samples the server every interval
// while it runs, appending the samples to rep.
func runSampled(ctx context.Context, lc loadgen.Config, mix []loadgen.Op, sampler *pprofSampler, interval time.Duration, start time.Time, rep *SoakReport, out io.Writer) (*loadgen.Result, error) {
	var res *loadgen.Result
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, runErr = loadgen.Run(ctx, lc, mix)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return res, runErr
		case <-tick.C:
			s, err := sampler.sample(ctx)
			if err != nil {
				<-done
				return nil, err
			}
			s.AtS = time.Since(start).Seconds()
			rep.Samples = append(rep.Samples, s)
			fmt.Fprintf(out, "soak: %6.0f s  %5d goroutines  live heap %7.1f MiB  block caches %7.1f MiB\n", s.AtS, s.Goroutines, mib(s.HeapLive), mib(s.BlockCache))
		}
	}
}

// quietSample closes the load's idle connections, then samples the server
// every 250 ms until its goroutine count has held still for three samples
// and is at most want (any count when want < 0), or settle has passed,
// and returns the last sample: what the server holds when nothing is
// asked of it.
func quietSample(ctx context.Context, s *pprofSampler, hc interface{ CloseIdleConnections() }, settle time.Duration, want int) (ServerSample, error) {
	hc.CloseIdleConnections()
	deadline := time.Now().Add(settle)
	var seen []int
	for {
		time.Sleep(250 * time.Millisecond)
		smp, err := s.sample(ctx)
		if err != nil {
			return smp, err
		}
		smp.Quiet = true
		seen = append(seen, smp.Goroutines)
		n := len(seen)
		steady := n >= 3 && seen[n-1] == seen[n-2] && seen[n-2] == seen[n-3]
		if (steady && (want < 0 || smp.Goroutines <= want)) || time.Now().After(deadline) {
			return smp, nil
		}
	}
}

// soakSetup creates the soak's principals: one that may read, write and
// aggregate the benchmark view for purpose inference (with a privacy
// budget large enough for any soak), and one with no grant at all. It
// returns their opaque tokens.
func soakSetup(ctx context.Context, admin featurevaultv1connect.AdminServiceClient) (allowed, denied string, err error) {
	if err := applyBenchView(ctx, admin); err != nil {
		return "", "", err
	}
	name, allowed, err := benchToken(ctx, admin)
	if err != nil {
		return "", "", err
	}
	rule := &fvv1.Rule{Role: benchRole, Action: fvv1.Action_ACTION_AGGREGATE, Object: benchdata.View + ".*", Purpose: benchPurpose}
	if _, err := admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule})); err != nil {
		return "", "", fmt.Errorf("grant aggregate on %s.* to role %s: %w", benchdata.View, benchRole, err)
	}
	if _, err := admin.SetBudget(ctx, connect.NewRequest(&fvv1.SetBudgetRequest{Principal: name, Epsilon: 1e6})); err != nil {
		return "", "", fmt.Errorf("set the privacy budget of %s: %w", name, err)
	}
	res, err := admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{
		Name:       name + "_denied",
		Attributes: map[string]*fvv1.StringList{"purpose": {Values: []string{benchPurpose}}},
	}))
	if err != nil {
		return "", "", fmt.Errorf("create principal %s_denied: %w", name, err)
	}
	return allowed, res.Msg.Token, nil
}

// parseMix turns --mix into operations.
func (cfg *soakConfig) parseMix(p *soakPrincipals, denied, bad []*refusal) ([]loadgen.Op, error) {
	return mixOps(cfg.mix, "online1=60,denied=5", func(name string, _ int) (*loadgen.Op, error) {
		var op loadgen.Op
		switch name {
		case "online1":
			op = p.allowed.onlineOp(1)
		case "online100":
			op = p.allowed.onlineOp(100)
		case "write":
			op = p.allowed.soakWriteOp(cfg.writeRows, cfg.versions)
		case "batch":
			op = p.allowed.batchOp(cfg.batchRows, 0)
		case "export":
			op = p.allowed.batchOp(0, 0)
		case "aggregate":
			op = p.allowed.aggregateOp()
		case "denied":
			op = refusalOp("denied", denied)
		case "bad":
			op = refusalOp("bad", bad)
		default:
			return nil, fmt.Errorf("--mix: unknown operation %q; use online1, online100, write, batch, export, aggregate, denied, bad", name)
		}
		return &op, nil
	})
}

// check refuses a soak that would load another machine, not stop by
// itself or not be able to watch the server.
func (cfg *soakConfig) check() error {
	switch {
	case cfg.duration <= 0 || cfg.duration > loadgen.MaxDuration:
		return fmt.Errorf("--duration %s: use more than 0 and at most %s", cfg.duration, loadgen.MaxDuration)
	case cfg.warmup < 0 || cfg.warmup > loadgen.MaxDuration:
		return fmt.Errorf("--warmup %s: use 0 to %s", cfg.warmup, loadgen.MaxDuration)
	case cfg.clients < 1 || cfg.clients > 1024:
		return fmt.Errorf("--clients %d: use 1 to 1024", cfg.clients)
	case cfg.entities < 100:
		return fmt.Errorf("--entities %d: use at least 100 (a 100×50 read needs them)", cfg.entities)
	case cfg.writeRows < 1 || cfg.versions < 1 || cfg.batchRows < 1:
		return fmt.Errorf("--write-rows %d, --versions %d, --batch-rows %d: each must be at least 1", cfg.writeRows, cfg.versions, cfg.batchRows)
	case cfg.pprofURL == "":
		return errors.New("--pprof is required: the soak samples the server's goroutines and heap through net/http/pprof (\"fvbench serve\" prints its URL)")
	}
	if err := checkLocalURL("--target", cfg.target, false); err != nil {
		return err
	}
	return checkLocalURL("--pprof", cfg.pprofURL, false)
}

// evaluate applies the pass criteria and records every failure in
// r.Problems:
//
//   - No unexpected error: every operation succeeded, and every denied or
//     malformed request was refused exactly as expected (a refusal with
//     another code, or an acceptance, is an error of its operation).
//   - Every kind of operation ran, and every kind of refusal was seen:
//     a soak that skipped a path proves nothing about it.
//   - Goroutines: no quiet checkpoint has more than goroutineSlack above
//     the first. A checkpoint is taken with the load paused and its idle
//     connections closed, so what remains is what the server keeps; the
//     slack covers goroutines a runtime or Badger spawns on a timer.
//   - Heap: the retained heap — the live heap after a forced GC, without
//     the blocks Badger's block caches hold — is, at the lower of the last
//     two checkpoints, at most heapGrowth above the first checkpoint's,
//     plus heapFloor. A leak raises every later checkpoint; a memtable
//     being swapped at one checkpoint does not raise two.
//
// Why the block caches are left out: each database's block cache fills
// toward its cap (256 MiB by default) as compactions rewrite the tables
// reads touch — a 5-minute soak saw it grow from 0 to 210 MiB — and that
// growth is bounded by design. It is reported beside the heap.
//
// Why samples under load are not judged: a forced GC under load is
// concurrent, and everything allocated while it marks counts as live, so
// a sample under load measures allocation rate times GC duration more
// than retention. A 5-minute soak saw samples swing between 550 and 1085
// MiB within a minute while the checkpoints' retained heap moved by 4 %.
// They are reported (medians of the first and the last third) so that a
// reader sees the working size under load.
func (r *SoakReport) evaluate(cfg soakConfig) {
	add := func(format string, args ...any) { r.Problems = append(r.Problems, fmt.Sprintf(format, args...)) }
	for _, o := range r.Ops {
		if o.Errors > 0 {
			add("%s: %d unexpected errors (%s)", o.Name, o.Errors, strings.Join(o.ErrorSamples, "; "))
		}
		if o.Count == 0 {
			add("%s: no operation succeeded", o.Name)
		}
	}
	for _, c := range r.Refusals {
		if c.Count == 0 {
			add("%s: the case %q was never refused as expected (it never ran, or every time it was answered otherwise)", c.Op, c.Case)
		}
	}
	if len(r.Samples) >= 3 {
		third := len(r.Samples) / 3
		r.HeapMedianFirst, r.HeapMedianLast = medianHeap(r.Samples[:third]), medianHeap(r.Samples[len(r.Samples)-third:])
	}
	if len(r.Checkpoints) < 3 {
		add("checkpoints: %d quiet samples, want at least 3 (the start and two after segments)", len(r.Checkpoints))
		return
	}
	first := r.Checkpoints[0]
	worst := first
	for _, c := range r.Checkpoints[1:] {
		if c.Goroutines > worst.Goroutines {
			worst = c
		}
	}
	if worst.Goroutines > first.Goroutines+cfg.goroutineSlack {
		add("goroutines: %d at the quiet checkpoint at %.0f s, %d at the first: more than the slack of %d", worst.Goroutines, worst.AtS, first.Goroutines, cfg.goroutineSlack)
	}
	n := len(r.Checkpoints)
	last := min(r.Checkpoints[n-1].retained(), r.Checkpoints[n-2].retained())
	if limit := uint64(float64(first.retained())*(1+cfg.heapGrowth)) + cfg.heapFloor; last > limit {
		add("heap: %.1f MiB retained at the last quiet checkpoints (the lower of two), %.1f MiB at the first: it grew more than %.0f %% + %.0f MiB", mib(last), mib(first.retained()), 100*cfg.heapGrowth, mib(cfg.heapFloor))
	}
}

// medianHeap is the median live heap of samples.
func medianHeap(s []ServerSample) uint64 {
	v := make([]uint64, len(s))
	for i := range s {
		v[i] = s[i].HeapLive
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// print writes the soak's summary.
func (r *SoakReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nsoak: %.0f s at %d clients against %s (load average %v → %v)\n", r.ElapsedS, r.Config.Clients, r.Config.Target, r.LoadAvgStart, r.LoadAvgEnd)
	var total, errs uint64
	for _, o := range r.Ops {
		total += o.Count
		errs += o.Errors
		fmt.Fprintf(w, "  %-18s %9d ok %4d err  %8.1f/s  p50 %7.0f  p99 %8.0f  max %8.0f µs\n", o.Name, o.Count, o.Errors, o.PerSecond, o.Latency.P50, o.Latency.P99, o.Latency.Max)
	}
	fmt.Fprintf(w, "  %d operations, %d unexpected errors\n", total, errs)
	for _, c := range r.Refusals {
		fmt.Fprintf(w, "  refused as expected: %-6s %-42s %-32s %d\n", c.Op, c.Case, c.Code, c.Count)
	}
	var gs, rs []string
	for _, c := range r.Checkpoints {
		gs = append(gs, strconv.Itoa(c.Goroutines))
		rs = append(rs, fmt.Sprintf("%.1f", mib(c.retained())))
	}
	fmt.Fprintf(w, "  quiet checkpoints (%d): goroutines %s\n", len(r.Checkpoints), strings.Join(gs, " "))
	fmt.Fprintf(w, "  quiet checkpoints: retained heap MiB %s\n", strings.Join(rs, " "))
	fmt.Fprintf(w, "  live heap at rest: %.1f → %.1f MiB, of which Badger block caches %.1f → %.1f MiB\n",
		mib(r.Start.HeapLive), mib(r.End.HeapLive), mib(r.Start.BlockCache), mib(r.End.BlockCache))
	fmt.Fprintf(w, "  live heap under load (%d samples, not judged): median %.1f MiB in the first third, %.1f MiB in the last\n",
		len(r.Samples), mib(r.HeapMedianFirst), mib(r.HeapMedianLast))
	if r.Start.RSS > 0 {
		fmt.Fprintf(w, "  RSS: %.1f MiB at the start, %.1f MiB at the end\n", mib(uint64(r.Start.RSS)), mib(uint64(r.End.RSS))) // #nosec G115 -- RSS is positive here
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "  PASS: no unexpected error, goroutines back to the start, retained heap flat")
		return
	}
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  FAIL:", p)
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
