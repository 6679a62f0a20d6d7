package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/featurevault/featurevault/internal/loadgen"
)

// Report is everything one fvbench run measured, as written to --json and
// read by "fvbench markdown".
type Report struct {
	Schema   string    `json:"schema"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	// LoadAvg is /proc/loadavg (1, 5, 15 min) at the start and end: the
	// machine is shared, so read every figure next to it.
	LoadAvgStart []float64     `json:"load_avg_start"`
	LoadAvgEnd   []float64     `json:"load_avg_end"`
	Config       ReportConfig  `json:"config"`
	Dataset      Dataset       `json:"dataset"`
	Phases       []*Phase      `json:"phases"`
	Export       *Export       `json:"export,omitempty"`
	TinkLimit    *TinkLimit    `json:"tink_limit,omitempty"`
	Ratios       []Ratio       `json:"ratios,omitempty"`
	Targets      []Target      `json:"targets,omitempty"`
	Profiles     []ProfileFile `json:"profiles,omitempty"`
	Notes        []string      `json:"notes,omitempty"`
	// ServerMemory is the FeatureVault server's resident set after the
	// seeding and at the end of the run (with --server-pid).
	ServerMemorySeeded *Memory `json:"server_memory_seeded,omitempty"`
	ServerMemoryEnd    *Memory `json:"server_memory_end,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	NumCPU     int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os_arch"`
}

// ReportConfig is the part of the configuration a reader needs to repeat
// the run.
type ReportConfig struct {
	Target          string         `json:"target"`
	Redis           string         `json:"redis,omitempty"`
	Noop            string         `json:"noop"`
	Principal       string         `json:"principal"`
	Purpose         string         `json:"purpose"`
	Clients         int            `json:"clients"`
	DurationS       float64        `json:"duration_s_per_target"`
	Requests        int64          `json:"requests_per_target,omitempty"`
	Rounds          int            `json:"rounds"`
	WarmupS         float64        `json:"warmup_s"`
	Rate            float64        `json:"rate,omitempty"`
	Mix             string         `json:"mix"`
	Phases          string         `json:"phases"`
	ResponseBytes   map[string]int `json:"response_bytes"`
	ServerPIDKnown  bool           `json:"server_pid_known"`
	ServerInProcess bool           `json:"server_in_process"`
}

// Dataset says what the server held.
type Dataset struct {
	Entities       int     `json:"entities"`
	Fields         int     `json:"fields"`
	SeededNow      bool    `json:"seeded_now"`
	SeedSeconds    float64 `json:"seed_seconds,omitempty"`
	SeedValuesPerS float64 `json:"seed_values_per_second,omitempty"`
	RedisSeedS     float64 `json:"redis_seed_seconds,omitempty"`
}

// Phase is one workload against one target.
type Phase struct {
	Name    string `json:"name"`
	Target  string `json:"target"`
	Clients int    `json:"clients"`
	Rounds  int    `json:"rounds"`
	// RatePerS is the total request rate of an open-loop phase (0: closed
	// loop, each client sending as fast as answers come back).
	RatePerS float64            `json:"open_loop_rate,omitempty"`
	ElapsedS float64            `json:"elapsed_s"`
	Ops      []loadgen.OpResult `json:"ops"`
	CPU      CPUUse             `json:"cpu"`
	Profiled bool               `json:"profiled,omitempty"`
	// PerRound and Median are the figures of each round, and their
	// medians, for the single-operation comparison phases (rounds.go).
	PerRound []RoundFigures `json:"per_round,omitempty"`
	Median   *RoundFigures  `json:"median,omitempty"`
}

// Export is the whole-view ReadBatches measurement.
type Export struct {
	Runs            int     `json:"runs"`
	Rows            int64   `json:"rows"`
	Values          int64   `json:"values"`
	ArrowBytes      int64   `json:"arrow_bytes"`
	BestSeconds     float64 `json:"best_seconds"`
	MedianSeconds   float64 `json:"median_seconds"`
	ValuesPerSecond float64 `json:"values_per_second_best"`
	// Percent of the raw Tink decrypt rate, on one goroutine and on all.
	PctOfTinkOne float64 `json:"pct_of_tink_one_goroutine"`
	PctOfTinkAll float64 `json:"pct_of_tink_all_goroutines"`
	// Identity is the same export with the client declining gzip, so the
	// server sends Arrow frames uncompressed.
	Identity       *Export `json:"identity,omitempty"`
	ServerRSSStart int64   `json:"server_rss_start_bytes,omitempty"`
	ServerRSSPeak  int64   `json:"server_rss_peak_bytes,omitempty"`
	CPU            CPUUse  `json:"cpu"`
}

// Ratio compares FeatureVault with a baseline at each percentile.
type Ratio struct {
	Op       string  `json:"op"`
	Clients  int     `json:"clients"`
	RatePerS float64 `json:"open_loop_rate,omitempty"`
	Baseline string  `json:"baseline"`
	P50      float64 `json:"p50"`
	P95      float64 `json:"p95"`
	P99      float64 `json:"p99"`
	P999     float64 `json:"p999"`
	Max      float64 `json:"max"`
}

// Target is one of the targets (issues 7 and 13), measured.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	Pass  bool    `json:"pass"`
	// Missing is set when the run did not measure what the target needs.
	Missing string `json:"missing,omitempty"`
}

// ProfileFile is a pprof profile taken from the server under load.
type ProfileFile struct {
	Kind     string `json:"kind"`
	Workload string `json:"workload"`
	Path     string `json:"path"`
}

const reportSchema = "fvbench/1"

// phase returns the phase of name and target at clients, or nil.
func (r *Report) phase(name, target string, clients int) *Phase {
	for _, p := range r.Phases {
		if p.Name == name && p.Target == target && p.Clients == clients && !p.Profiled {
			return p
		}
	}
	return nil
}

func (p *Phase) op(name string) *loadgen.OpResult {
	for i := range p.Ops {
		if p.Ops[i].Name == name {
			return &p.Ops[i]
		}
	}
	return nil
}

// latencies returns op's result in the phase of name, target and
// clients, and whether it has successful requests.
func (r *Report) latencies(name, op, target string, clients int) (*loadgen.OpResult, bool) {
	p := r.phase(name, target, clients)
	if p == nil {
		return nil, false
	}
	o := p.op(op)
	return o, o != nil && o.Count > 0
}

// computeRatios fills Ratios from the online phases.
func (r *Report) computeRatios() {
	r.Ratios = nil
	for _, p := range r.Phases {
		if p.Target != targetFV || p.Profiled {
			continue
		}
		if len(p.Ops) != 1 || p.Ops[0].Count == 0 {
			continue
		}
		fv := &p.Ops[0]
		for _, base := range []string{targetRedis, targetNoop} {
			b, ok := r.latencies(p.Name, fv.Name, base, p.Clients)
			if !ok {
				continue
			}
			div := func(a, b float64) float64 {
				if b == 0 {
					return 0
				}
				return a / b
			}
			r.Ratios = append(r.Ratios, Ratio{
				Op: p.Name, Clients: p.Clients, Baseline: base, RatePerS: p.RatePerS,
				P50: div(fv.Latency.P50, b.Latency.P50), P95: div(fv.Latency.P95, b.Latency.P95),
				P99: div(fv.Latency.P99, b.Latency.P99), P999: div(fv.Latency.P999, b.Latency.P999),
				Max: div(fv.Latency.Max, b.Latency.Max),
			})
		}
	}
}

// computeTargets evaluates issue 13's targets (and issue 7's on export
// and ingest) against what was measured: latencies, throughput and server
// CPU are the medians over the rounds, each figure on its own.
func (r *Report) computeTargets(clients int) {
	r.Targets = nil
	measured := false
	for _, p := range r.Phases {
		measured = measured || !p.Profiled
	}
	if !measured && r.Export == nil {
		return // a profiling run: its figures are distorted by the profiler
	}
	one, n100 := onlineName(1), onlineName(100)
	add := func(name string, value, limit float64, unit string, missing string) {
		t := Target{Name: name, Value: value, Limit: limit, Unit: unit, Missing: missing}
		t.Pass = missing == "" && value <= limit
		r.Targets = append(r.Targets, t)
	}
	atLeast := func(name string, value, limit float64, unit string, missing string) {
		t := Target{Name: name, Value: value, Limit: limit, Unit: unit + " (at least)", Missing: missing}
		t.Pass = missing == "" && value >= limit
		r.Targets = append(r.Targets, t)
	}
	fig := func(phase, target string, c int) (RoundFigures, *Phase, string) {
		p := r.phase(phase, target, c)
		if p == nil || len(p.Ops) == 0 || p.Ops[0].Count == 0 {
			return RoundFigures{}, nil, fmt.Sprintf("no %s phase on %s at %d client(s)", phase, target, c)
		}
		if p.Median != nil {
			return *p.Median, p, ""
		}
		o := p.Ops[0]
		return RoundFigures{P50: o.Latency.P50, P99: o.Latency.P99, Max: o.Latency.Max, PerSecond: o.PerSecond, ServerUsPerOp: p.CPU.ServerUsPerOp, Errors: o.Errors}, p, ""
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	fv1, _, m1 := fig(one, targetFV, 1)
	np, _, mn := fig(one, targetNoop, 1)
	add("online 1×50, 1 client: p50 / noop Connect p50 (same bytes)", ratio(fv1.P50, np.P50), 1.5, "×", firstOf(m1, mn))
	rd, _, mr := fig(one, targetRedis, 1)
	add("online 1×50, 1 client: p50 / Redis HMGET p50", ratio(fv1.P50, rd.P50), 2.5, "×", firstOf(m1, mr))
	add("online 1×50, 1 client: p99", fv1.P99, 1000, "µs", m1)
	cpuMissing := m1
	if m1 == "" && fv1.ServerUsPerOp == 0 {
		cpuMissing = "no --server-pid"
	}
	add("server CPU per online 1×50 read, 1 client", fv1.ServerUsPerOp, 80, "µs", cpuMissing)
	fv100, _, m100 := fig(n100, targetFV, 1)
	add("online 100×50, 1 client: p99", fv100.P99, 5000, "µs", m100)
	if clients > 1 {
		errors := func(name string) float64 {
			var n float64
			if p := r.phase(name, targetFV, clients); p != nil {
				for _, o := range p.Ops {
					n += float64(o.Errors)
				}
			}
			return n
		}
		fvN, _, mN := fig(one, targetFV, clients)
		noopN, _, mNN := fig(one, targetNoop, clients)
		atLeast(fmt.Sprintf("online 1×50, %d clients closed loop: throughput / noop Connect's", clients), ratio(fvN.PerSecond, noopN.PerSecond), 0.8, "×", firstOf(mN, mNN))
		add(fmt.Sprintf("online 1×50, %d clients closed loop: errors", clients), errors(one), 0, "", mN)
		fvR, pR, mR := fig(fixedRateName, targetFV, clients)
		rate := ""
		slowest := 0.0
		if pR != nil {
			rate = fmt.Sprintf(" at %.0f req/s", pR.RatePerS)
			slowest = pR.Ops[0].Latency.Max
		}
		add(fmt.Sprintf("online 1×50, %d clients%s (open loop, half the closed-loop throughput): p99 / 1-client p99", clients, rate), ratio(fvR.P99, fv1.P99), 4, "×", firstOf(m1, mR))
		add(fmt.Sprintf("online 1×50, %d clients open loop: slowest request, all rounds", clients), slowest, 50_000, "µs", mR)
		add(fmt.Sprintf("online 1×50, %d clients open loop: errors", clients), errors(fixedRateName), 0, "", mR)
		for _, m := range []string{"mix", mixNoBatchName} {
			if r.phase(m, targetFV, clients) != nil {
				add(fmt.Sprintf("%s at %d clients: errors", m, clients), errors(m), 0, "", "")
			}
		}
	}
	if m := r.ServerMemoryEnd; m != nil {
		add(fmt.Sprintf("server RSS at the end of the run, %d entities × %d values (anonymous %d MiB + table file pages %d MiB)", r.Dataset.Entities, r.Dataset.Fields, m.Anon>>20, m.File>>20), float64(m.RSS>>20), 256, "MiB", "")
	} else {
		add("server RSS at the end of the run", 0, 256, "MiB", "no --server-pid")
	}
	if r.Export != nil && r.TinkLimit != nil {
		t := Target{Name: "export (ReadBatches, client defaults) / raw Tink decrypt rate on all cores", Value: r.Export.PctOfTinkAll, Limit: 50, Unit: "% (at least)"}
		t.Pass = t.Value >= t.Limit
		r.Targets = append(r.Targets, t)
	}
	if r.Dataset.SeedValuesPerS > 0 {
		t := Target{Name: "ingest through WriteFeatures while seeding (IngestArrow is the bulk path)", Value: r.Dataset.SeedValuesPerS, Limit: 1e6, Unit: "values/s (at least)"}
		t.Pass = t.Value >= t.Limit
		r.Targets = append(r.Targets, t)
	}
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// print writes the human-readable summary.
func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "\nfvbench: %d entities × %d fields; %s, %d CPUs (%s); load average %v at start, %v at end\n",
		r.Dataset.Entities, r.Dataset.Fields, r.Machine.GoVersion, r.Machine.NumCPU, r.Machine.CPUModel, r.LoadAvgStart, r.LoadAvgEnd)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\ttarget\tclients\top\tok\terrors\tops/s\tp50 µs\tp95 µs\tp99 µs\tp99.9 µs\tmax µs\tserver CPU µs/op\tloadgen CPU µs/op\t")
	for _, p := range r.Phases {
		name := p.Name
		if p.Profiled {
			name += " (profiled)"
		}
		if p.RatePerS > 0 {
			name += fmt.Sprintf(" @%.0f/s", p.RatePerS)
		}
		for _, o := range p.Ops {
			srv := "-"
			if p.CPU.ServerUsPerOp > 0 {
				srv = fmt.Sprintf("%.0f", p.CPU.ServerUsPerOp)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t%.0f\t\n",
				name, p.Target, p.Clients, o.Name, o.Count, o.Errors, o.PerSecond,
				o.Latency.P50, o.Latency.P95, o.Latency.P99, o.Latency.P999, o.Latency.Max, srv, p.CPU.LoadgenUsPerOp)
		}
	}
	_ = tw.Flush()
	for _, p := range r.Phases {
		for _, o := range p.Ops {
			for _, s := range o.ErrorSamples {
				fmt.Fprintf(w, "  error in %s/%s/%s: %s\n", p.Name, p.Target, o.Name, s)
			}
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w, "\nFeatureVault / baseline, same run:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "op\tclients\tbaseline\tp50\tp95\tp99\tp99.9\tmax\t")
		for _, x := range r.Ratios {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", x.Op, x.Clients, x.Baseline, x.P50, x.P95, x.P99, x.P999, x.Max)
		}
		_ = tw.Flush()
	}
	if t := r.TinkLimit; t != nil {
		fmt.Fprintf(w, "\nphysical limit: raw Tink AES-256-GCM decrypt of %d values: %.0f ns/value, %.2f M values/s on 1 goroutine, %.2f M values/s on %d; decrypt floor %.1f µs for 1×50, %.0f µs for 100×50\n",
			t.Values, t.NsPerValue, t.OneCorePerSec/1e6, t.AllCoresPerSec/1e6, t.Goroutines, t.Online1x50Us, t.Online100x50Us)
		fmt.Fprintf(w, "  without Tink's keyset wrapper (aesgcm.NewAEAD on the primary key): %.0f ns/value, %.2f M values/s on 1 goroutine\n",
			t.DirectNsPerValue, t.DirectPerSec/1e6)
	}
	if e := r.Export; e != nil {
		fmt.Fprintf(w, "export: ReadBatches of %d rows × %d fields, best of %d: %.2f s, %.2f M values/s = %.0f%% of raw Tink on all goroutines (%.0f%% of one)",
			e.Rows, r.Dataset.Fields, e.Runs, e.BestSeconds, e.ValuesPerSecond/1e6, e.PctOfTinkAll, e.PctOfTinkOne)
		if e.ServerRSSPeak > 0 {
			fmt.Fprintf(w, "; server RSS %d MiB before, %d MiB peak", e.ServerRSSStart>>20, e.ServerRSSPeak>>20)
		}
		fmt.Fprintln(w)
		if i := e.Identity; i != nil {
			fmt.Fprintf(w, "export without gzip (client accepts identity only): best %.2f s, %.2f M values/s = %.0f%% of raw Tink on all goroutines\n",
				i.BestSeconds, i.ValuesPerSecond/1e6, i.PctOfTinkAll)
		}
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w, "\ntargets (issue 13; latency, throughput and CPU are medians over the rounds):")
		for _, t := range r.Targets {
			verdict := "PASS"
			if !t.Pass {
				verdict = "FAIL"
			}
			if t.Missing != "" {
				verdict = "NOT MEASURED (" + t.Missing + ")"
			}
			fmt.Fprintf(w, "  %-4s %s: %s (limit %s %s)\n", verdict, t.Name, fmtNum(t.Value), fmtNum(t.Limit), t.Unit)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func fmtNum(v float64) string {
	switch {
	case v >= 1e5:
		return fmt.Sprintf("%.3g", v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// allOpsOK reports ops that ran nothing or failed, for the exit status.
func (r *Report) problems() []string {
	var out []string
	for _, p := range r.Phases {
		for _, o := range p.Ops {
			if o.Errors > 0 {
				out = append(out, fmt.Sprintf("%s/%s/%s: %d errors", p.Name, p.Target, o.Name, o.Errors))
			}
		}
	}
	slices.Sort(out)
	return out
}
