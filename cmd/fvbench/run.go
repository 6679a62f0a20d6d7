package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/internal/loadgen"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// Target names in results.
const (
	targetFV    = "featurevault"
	targetNoop  = "noop-connect"
	targetRedis = "redis-hmget"
)

// Phase names (--phases).
const (
	phaseCompare = "compare" // 1×50 and 100×50 at 1 client on every target
	phaseScale   = "scale"   // 1×50 at --clients on every target
	phaseMix     = "mix"     // the --mix at --clients on FeatureVault
	phaseExport  = "export"  // whole-view ReadBatches, and the Tink limit
	phaseProfile = "profile" // pprof of the server under load (--pprof)
)

var allPhases = []string{phaseCompare, phaseScale, phaseMix, phaseExport, phaseProfile, phaseWrites}

// runConfig is what "fvbench run" does.
type runConfig struct {
	target      string
	token       string
	tokenFile   string
	asAdmin     bool
	allowRemote bool

	entities    int
	seed        bool
	seedBatch   int
	seedWorkers int

	phases   []string
	clients  int
	duration time.Duration
	requests int64
	rounds   int
	warmup   time.Duration
	rate     float64
	mix      string
	// writeRows rows per write operation; batchMaxRows rows read per batch
	// operation of the mix.
	writeRows    int
	batchMaxRows int
	exportRuns   int
	tinkKeys     int
	writes       writesConfig // the writes phase (writes.go)

	redisAddr string
	noopURL   string
	serverPID int
	redisPID  int
	noopPID   int

	pprofURL       string
	profileDir     string
	profileSeconds int

	jsonOut string
	// seedJSON is the report of an earlier seed-only run, whose seeding
	// figures this run reports when it finds the data already there.
	seedJSON string
	seedRNG  uint64
}

func defaultRunConfig() runConfig {
	return runConfig{
		target:         "http://127.0.0.1:8433",
		entities:       100_000,
		seed:           true,
		seedBatch:      500,
		seedWorkers:    2,
		phases:         []string{phaseCompare, phaseScale, phaseMix, phaseExport},
		clients:        64,
		duration:       6 * time.Second,
		rounds:         3,
		warmup:         time.Second,
		mix:            "online1=70,online100=15,write=14,batch=1",
		writeRows:      10,
		batchMaxRows:   4096,
		exportRuns:     3,
		tinkKeys:       1000,
		profileSeconds: 10,
		seedRNG:        1,
		writes:         defaultWritesConfig(),
	}
}

// bench is one run in progress.
type bench struct {
	cfg    runConfig
	out    io.Writer
	fv     *fvTarget
	noop   *fvTarget
	redis  *redisTarget
	admin  featurevaultv1connect.AdminServiceClient
	rep    *Report
	pids   map[string]int
	mixOps []loadgen.Op
}

// runBench runs every phase of cfg, prints the summary to out, writes the
// JSON report and returns it. It fails if the configuration would send
// load off this machine or not stop by itself; failed operations are
// reported, not returned as an error.
func runBench(ctx context.Context, cfg runConfig, out io.Writer) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	token, err := cfg.credential()
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, out: out, pids: map[string]int{}}
	b.rep = &Report{
		Schema:  reportSchema,
		Started: time.Now().UTC(),
		Machine: Machine{
			NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
			GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		},
		LoadAvgStart: loadAvg(),
		Dataset:      Dataset{Entities: cfg.entities, Fields: benchdata.Fields},
	}
	if cfg.serverPID > 0 {
		b.pids[targetFV] = cfg.serverPID
	}
	if cfg.redisPID > 0 {
		b.pids[targetRedis] = cfg.redisPID
	}
	if cfg.noopPID > 0 {
		b.pids[targetNoop] = cfg.noopPID
	}
	conns := cfg.clients + 2
	b.admin = featurevaultv1connect.NewAdminServiceClient(newHTTPClient(4), cfg.target, withHeaders(token, ""))
	purpose, principal := "analytics", "admin"
	if !cfg.asAdmin {
		if err := applyBenchView(ctx, b.admin); err != nil {
			return nil, err
		}
		if principal, token, err = benchToken(ctx, b.admin); err != nil {
			return nil, fmt.Errorf("%w (pass --as-admin to load with the admin token itself)", err)
		}
		purpose = benchPurpose
	}
	b.fv = newFVTarget(targetFV, cfg.target, token, purpose, cfg.entities, newHTTPClient(conns))
	b.rep.Config = ReportConfig{
		Target: cfg.target, Redis: cfg.redisAddr, Principal: principal, Purpose: purpose,
		Clients: cfg.clients, DurationS: cfg.duration.Seconds(), Requests: cfg.requests, Rounds: cfg.rounds,
		WarmupS: cfg.warmup.Seconds(), Rate: cfg.rate, Mix: cfg.mix, Phases: strings.Join(cfg.phases, ","),
		ServerPIDKnown: cfg.serverPID > 0,
	}

	fmt.Fprintf(out, "fvbench: target %s as principal %s (purpose %s); load average %v\n", cfg.target, principal, purpose, b.rep.LoadAvgStart)
	if err := b.seedAll(ctx); err != nil {
		return nil, err
	}
	if m, ok := procMemory(cfg.serverPID); ok {
		b.rep.ServerMemorySeeded = &m
	}
	if len(cfg.phases) == 0 {
		fmt.Fprintln(out, "no phases: seeded only")
		return b.rep, b.finish()
	}
	if err := b.startNoop(ctx); err != nil {
		return nil, err
	}
	if b.mixOps, err = b.parseMix(); err != nil {
		return nil, err
	}
	if !offers("Aggregate") {
		b.note("aggregates not measured: FeatureService offers no Aggregate method in this build (proto/featurevault/v1); the mix weight \"aggregate\" is refused until it does")
	}

	for _, ph := range cfg.phases {
		if ctx.Err() != nil {
			break
		}
		var err error
		switch ph {
		case phaseCompare:
			for _, n := range []int{1, 100} {
				if err = b.comparePhase(ctx, onlineName(n), n, 1, 0); err != nil {
					break
				}
			}
		case phaseScale:
			if err = b.comparePhase(ctx, onlineName(1), 1, cfg.clients, 0); err != nil {
				break
			}
			// the same clients at half the throughput they reached: how
			// the tail behaves under load the server can sustain
			if p := b.rep.phase(onlineName(1), targetFV, cfg.clients); p != nil && p.Ops[0].PerSecond > 0 {
				err = b.comparePhase(ctx, fixedRateName, 1, cfg.clients, p.Ops[0].PerSecond/2)
			}
		case phaseMix:
			err = b.mixPhase(ctx)
		case phaseExport:
			err = b.exportPhase(ctx)
		case phaseProfile:
			err = b.profilePhase(ctx)
		case phaseWrites:
			err = b.writesPhase(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("phase %s: %w", ph, err)
		}
	}
	if b.rep.TinkLimit == nil && slices.ContainsFunc(cfg.phases, func(p string) bool { return p != phaseProfile && p != phaseWrites }) {
		// the physical-limit line belongs to every run: the values of one
		// 1×50 read many times over
		if err := b.measureTink(int64(cfg.entities) * benchdata.Fields); err != nil {
			return nil, err
		}
	}
	b.rep.LoadAvgEnd = loadAvg()
	if m, ok := procMemory(cfg.serverPID); ok {
		b.rep.ServerMemoryEnd = &m
	}
	b.rep.computeRatios()
	b.rep.computeTargets(cfg.clients)
	b.rep.print(out)
	if err := b.finish(); err != nil {
		return nil, err
	}
	return b.rep, ctx.Err()
}

// finish stamps the report and writes it to --json.
func (b *bench) finish() error {
	b.rep.Finished = time.Now().UTC()
	if b.rep.LoadAvgEnd == nil {
		b.rep.LoadAvgEnd = loadAvg()
	}
	if b.cfg.jsonOut == "" {
		return nil
	}
	data, err := json.MarshalIndent(b.rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.cfg.jsonOut, append(data, '\n'), 0o644); err != nil { // #nosec G306 -- a benchmark report, meant to be shared
		return err
	}
	fmt.Fprintf(b.out, "wrote %s\n", b.cfg.jsonOut)
	return nil
}

func (b *bench) note(format string, args ...any) {
	b.rep.Notes = append(b.rep.Notes, fmt.Sprintf(format, args...))
}

// offers reports whether this build's FeatureService has method name.
func offers(name string) bool {
	sd := fvv1.File_featurevault_v1_feature_service_proto.Services().ByName("FeatureService")
	return sd != nil && sd.Methods().ByName(protoreflect.Name(name)) != nil
}

// check refuses configurations that would send load off this machine
// (without --allow-remote) or not stop by themselves.
func (cfg *runConfig) check() error {
	if cfg.duration <= 0 && cfg.requests <= 0 {
		return errors.New("--duration and --requests are both 0: give at least one bound, the load must stop by itself")
	}
	if cfg.duration > loadgen.MaxDuration {
		return fmt.Errorf("--duration %s exceeds the cap of %s per phase", cfg.duration, loadgen.MaxDuration)
	}
	if cfg.clients < 1 || cfg.clients > 4096 {
		return fmt.Errorf("--clients %d: use 1 to 4096", cfg.clients)
	}
	if cfg.rounds < 1 {
		return fmt.Errorf("--rounds %d: use at least 1", cfg.rounds)
	}
	if err := cfg.writes.check(); err != nil {
		return err
	}
	if cfg.entities < 100 {
		return fmt.Errorf("--entities %d: use at least 100 (a 100×50 read needs them)", cfg.entities)
	}
	for _, p := range cfg.phases {
		if !slices.Contains(allPhases, p) {
			return fmt.Errorf("--phases: unknown phase %q; use some of %s", p, strings.Join(allPhases, ","))
		}
	}
	if slices.Contains(cfg.phases, phaseProfile) && cfg.pprofURL == "" {
		return errors.New("--phases profile needs --pprof, the URL of the server's net/http/pprof (\"fvbench serve\" exposes it)")
	}
	checks := []struct{ flag, addr string }{{"--target", cfg.target}, {"--noop", cfg.noopURL}, {"--pprof", cfg.pprofURL}}
	for _, c := range checks {
		if c.addr == "" {
			continue
		}
		if err := checkLocalURL(c.flag, c.addr, cfg.allowRemote); err != nil {
			return err
		}
	}
	if cfg.redisAddr != "" {
		if err := checkLocalHostPort("--redis", cfg.redisAddr, cfg.allowRemote); err != nil {
			return err
		}
	}
	return nil
}

// credential returns the admin bearer token: --token, FEATUREVAULT_TOKEN
// or the file --token-file (a server's DATA/admin.token).
func (cfg *runConfig) credential() (string, error) {
	switch {
	case cfg.token != "":
		return cfg.token, nil
	case os.Getenv("FEATUREVAULT_TOKEN") != "":
		return strings.TrimSpace(os.Getenv("FEATUREVAULT_TOKEN")), nil
	case cfg.tokenFile != "":
		data, err := os.ReadFile(cfg.tokenFile)
		if err != nil {
			return "", fmt.Errorf("read the admin token: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return "", errors.New("no token: pass --token-file DATA/admin.token (or --token, or set FEATUREVAULT_TOKEN)")
}

// checkLocalURL refuses a URL whose host is not a loopback address.
func checkLocalURL(flag, raw string, allowRemote bool) error {
	host := raw
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	return checkLocalHostPort(flag, host, allowRemote)
}

func checkLocalHostPort(flag, hostport string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port (%v)", flag, hostport, err)
	}
	if allowRemote || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("%s %s is not a loopback address: fvbench sends load only to this machine unless --allow-remote is given", flag, hostport)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// seedAll seeds FeatureVault and Redis (each unless already seeded).
func (b *bench) seedAll(ctx context.Context) error {
	if !b.cfg.seed {
		if !seeded(ctx, b.fv) {
			return fmt.Errorf("the server does not hold the %d-entity benchmark view; drop --seed=false to write it", b.cfg.entities)
		}
	} else {
		fmt.Fprintf(b.out, "seeding: %d entities × %d fields through WriteFeatures (skipped if present)...\n", b.cfg.entities, benchdata.Fields)
		values, took, err := seedFV(ctx, b.admin, b.fv, b.cfg.seedBatch, b.cfg.seedWorkers)
		if err != nil {
			return err
		}
		if values == 0 && b.cfg.seedJSON != "" {
			if data, err := os.ReadFile(b.cfg.seedJSON); err == nil {
				var prev Report
				if json.Unmarshal(data, &prev) == nil && prev.Dataset.Entities == b.cfg.entities {
					b.rep.Dataset = prev.Dataset
				}
			}
		}
		if values > 0 {
			b.rep.Dataset.SeededNow = true
			b.rep.Dataset.SeedSeconds = took.Seconds()
			b.rep.Dataset.SeedValuesPerS = float64(values) / took.Seconds()
			fmt.Fprintf(b.out, "seeded FeatureVault in %.1f s: %.0f values/s (batches of %d rows, %d concurrent calls)\n",
				took.Seconds(), b.rep.Dataset.SeedValuesPerS, b.cfg.seedBatch, b.cfg.seedWorkers)
		}
	}
	if b.cfg.redisAddr == "" {
		b.note("Redis comparison not run: no --redis address")
		return nil
	}
	b.redis = newRedisTarget(b.cfg.redisAddr, b.cfg.clients, b.cfg.entities)
	_, took, err := b.redis.seed(ctx)
	if err != nil {
		return err
	}
	b.rep.Dataset.RedisSeedS = took.Seconds()
	return nil
}

// startNoop connects to --noop, or starts the noop server in this process
// (then it shares the load generator's CPU: say so).
func (b *bench) startNoop(ctx context.Context) error {
	canned, err := cannedResponses(ctx, b.fv, 1, 100)
	if err != nil {
		return err
	}
	b.rep.Config.ResponseBytes = cannedSizes(canned)
	url := b.cfg.noopURL
	if url == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		go serveNoop(context.WithoutCancel(ctx), ln, canned)
		url = "http://" + ln.Addr().String()
		b.rep.Config.Noop = "in-process (shares the load generator's CPU)"
	} else {
		b.rep.Config.Noop = url + " (its own process)"
	}
	// the same headers as the real server gets, so that the requests are
	// byte for byte the same
	b.noop = newFVTarget(targetNoop, url, b.fv.token, b.fv.purpose, b.cfg.entities, newHTTPClient(b.cfg.clients+2))
	b.noop.canned = true
	return nil
}

// namedOp is an operation on one target.
type namedOp struct {
	target string
	op     loadgen.Op
}

// targetsFor returns the online read of n entities on each target.
func (b *bench) targetsFor(n int) []namedOp {
	out := []namedOp{{targetFV, b.fv.onlineOp(n)}, {targetNoop, b.noop.onlineOp(n)}}
	if b.redis != nil {
		out = append(out, namedOp{targetRedis, b.redis.onlineOp(n)})
	}
	return out
}

// fixedRateName names the open-loop variant of the scale phase.
const fixedRateName = "online-1x50-fixed-rate"

// comparePhase runs the same online read on every target at clients,
// interleaving the targets in rounds so that a change in the machine's
// load during the run hits them alike. A positive rate runs open loop at
// that total rate (the same for every target).
func (b *bench) comparePhase(ctx context.Context, name string, n, clients int, rate float64) error {
	targets := b.targetsFor(n)
	results := make([][]*loadgen.Result, len(targets))
	cpu := make([]cpuAcc, len(targets))
	rounds := make([][]RoundFigures, len(targets))
	for _, t := range targets {
		if err := b.warm(ctx, clients, []loadgen.Op{t.op}); err != nil {
			return err
		}
	}
	for r := range b.cfg.rounds {
		for i, t := range targets {
			m := startCPU(b.pids)
			c := b.roundConfig(clients, r)
			if rate > 0 {
				c.Rate = rate
			}
			res, err := loadgen.Run(ctx, c, []loadgen.Op{withWeight(t.op, 1)})
			if err != nil {
				return err
			}
			cpu[i].add(m, t.target)
			var one cpuAcc
			one.add(m, t.target)
			rounds[i] = append(rounds[i], roundFigures(res, one.use(res)))
			results[i] = append(results[i], res)
		}
	}
	for i, t := range targets {
		res := loadgen.Merge(results[i]...)
		med := medianFigures(rounds[i])
		b.addPhase(&Phase{Name: name, Target: t.target, Clients: clients, Rounds: b.cfg.rounds, RatePerS: rate, ElapsedS: res.Elapsed.Seconds(), Ops: res.Ops, CPU: cpu[i].use(res), PerRound: rounds[i], Median: &med})
	}
	return nil
}

func withWeight(op loadgen.Op, w int) loadgen.Op { op.Weight = w; return op }

// roundConfig is the load of one round: the per-target budget split
// between rounds.
func (b *bench) roundConfig(clients, round int) loadgen.Config {
	c := loadgen.Config{Clients: clients, Duration: b.cfg.duration / time.Duration(b.cfg.rounds), Rate: b.cfg.rate, Seed: b.cfg.seedRNG + uint64(round)*7919} // #nosec G115 -- round is a non-negative loop index
	if b.cfg.requests > 0 {
		c.Requests = max(1, b.cfg.requests/int64(b.cfg.rounds))
	}
	return c
}

// warm runs ops briefly, unrecorded: connections, caches, the JIT-less
// but lazily-built Go and Badger state.
func (b *bench) warm(ctx context.Context, clients int, ops []loadgen.Op) error {
	if b.cfg.warmup <= 0 {
		return nil
	}
	for i := range ops {
		if ops[i].Weight == 0 {
			ops[i].Weight = 1
		}
	}
	c := loadgen.Config{Clients: clients, Duration: b.cfg.warmup, Seed: b.cfg.seedRNG + 1e6}
	if b.cfg.requests > 0 {
		c.Requests = max(int64(clients), b.cfg.requests/10)
	}
	_, err := loadgen.Run(ctx, c, ops)
	return err
}

func (b *bench) addPhase(p *Phase) {
	b.rep.Phases = append(b.rep.Phases, p)
	var parts []string
	for _, o := range p.Ops {
		parts = append(parts, fmt.Sprintf("%s %d ok %d err, %.0f/s, p50 %.0f p99 %.0f max %.0f µs", o.Name, o.Count, o.Errors, o.PerSecond, o.Latency.P50, o.Latency.P99, o.Latency.Max))
	}
	fmt.Fprintf(b.out, "%-14s %-13s c=%-3d %s\n", p.Name, p.Target, p.Clients, strings.Join(parts, "; "))
}

// cpuAcc adds up CPU use over rounds.
type cpuAcc struct {
	wall, self, server float64
	hasServer          bool
}

func (a *cpuAcc) add(m *cpuMeter, target string) {
	a.wall += time.Since(m.start).Seconds()
	a.self += (selfCPU() - m.self).Seconds()
	if before, ok := m.procs[target]; ok {
		if now, ok := procCPU(m.pids[target]); ok {
			a.server += (now - before).Seconds()
			a.hasServer = true
		}
	}
}

func (a *cpuAcc) use(res *loadgen.Result) CPUUse {
	var ops uint64
	for _, o := range res.Ops {
		ops += o.Count + o.Errors
	}
	u := CPUUse{}
	if a.wall > 0 {
		u.LoadgenCores = a.self / a.wall
	}
	if ops > 0 {
		u.LoadgenUsPerOp = a.self / float64(ops) * 1e6
	}
	if a.hasServer && a.wall > 0 {
		u.ServerCores = a.server / a.wall
		if ops > 0 {
			u.ServerUsPerOp = a.server / float64(ops) * 1e6
		}
	}
	return u
}

// parseMix turns --mix into operations on FeatureVault.
func (b *bench) parseMix() ([]loadgen.Op, error) {
	return mixOps(b.cfg.mix, "online1=70,write=10", func(name string, weight int) (*loadgen.Op, error) {
		var op loadgen.Op
		switch name {
		case "online1":
			op = b.fv.onlineOp(1)
		case "online100":
			op = b.fv.onlineOp(100)
		case "write":
			op = b.fv.writeOp(b.cfg.writeRows)
		case "batch":
			op = b.fv.batchOp(b.cfg.batchMaxRows, 0)
		case "aggregate":
			if weight > 0 && !offers("Aggregate") {
				return nil, errors.New("--mix aggregate: this build's FeatureService has no Aggregate method; set its weight to 0")
			}
			return nil, nil
		default:
			return nil, fmt.Errorf("--mix: unknown operation %q; use online1, online100, write, batch, aggregate", name)
		}
		return &op, nil
	})
}

// mixOps parses a --mix of name=weight pairs into weighted operations. op
// returns the operation a name stands for (nil to leave it out) or an
// error for a name it does not know; names of weight 0 are left out, and
// a mix with no operation left is refused.
func mixOps(mix, example string, op func(name string, weight int) (*loadgen.Op, error)) ([]loadgen.Op, error) {
	var ops []loadgen.Op
	for _, part := range splitList(mix) {
		name, w, ok := strings.Cut(part, "=")
		weight, err := strconv.Atoi(w)
		if !ok || err != nil || weight < 0 {
			return nil, fmt.Errorf("--mix %q: want name=weight pairs such as %s", part, example)
		}
		o, err := op(name, weight)
		if err != nil {
			return nil, err
		}
		if o != nil && weight > 0 {
			ops = append(ops, withWeight(*o, weight))
		}
	}
	if len(ops) == 0 {
		return nil, errors.New("--mix has no operation with a positive weight")
	}
	return ops, nil
}

// mixPhase runs the weighted mix on FeatureVault at --clients, then, when
// the mix has batch reads, the same mix without them: a batch read costs
// the server far more than an online read, so the pair shows what a
// training job's reads do to online latency.
func (b *bench) mixPhase(ctx context.Context) error {
	variants := []struct {
		name string
		ops  []loadgen.Op
	}{{"mix", b.mixOps}}
	var online []loadgen.Op
	for _, op := range b.mixOps {
		if !strings.HasPrefix(op.Name, "batch") {
			online = append(online, op)
		}
	}
	if len(online) < len(b.mixOps) && len(online) > 0 {
		variants = append(variants, struct {
			name string
			ops  []loadgen.Op
		}{mixNoBatchName, online})
	}
	for _, v := range variants {
		if err := b.warm(ctx, b.cfg.clients, slices.Clone(v.ops)); err != nil {
			return err
		}
		c := loadgen.Config{Clients: b.cfg.clients, Duration: b.cfg.duration, Requests: b.cfg.requests, Rate: b.cfg.rate, Seed: b.cfg.seedRNG + 99}
		m := startCPU(b.pids)
		res, err := loadgen.Run(ctx, c, v.ops)
		if err != nil {
			return err
		}
		var acc cpuAcc
		acc.add(m, targetFV)
		b.addPhase(&Phase{Name: v.name, Target: targetFV, Clients: b.cfg.clients, Rounds: 1, ElapsedS: res.Elapsed.Seconds(), Ops: res.Ops, CPU: acc.use(res)})
	}
	return nil
}

// mixNoBatchName names the mix phase without its batch reads.
const mixNoBatchName = "mix-without-batch"

// exportPhase reads the whole view with ReadBatches, one client, several
// times, sampling the server's memory, first as the client package and
// the CLI do (accepting gzip) and then declining compression; then it
// measures the Tink limit over the same number of values.
func (b *bench) exportPhase(ctx context.Context) error {
	e, err := b.export(ctx, b.fv)
	if err != nil {
		return err
	}
	identity := newFVTarget(targetFV, b.fv.url, b.fv.token, b.fv.purpose, b.cfg.entities, newHTTPClient(2),
		connect.WithAcceptCompression("gzip", nil, nil))
	if e.Identity, err = b.export(ctx, identity); err != nil {
		return err
	}
	if err := b.measureTink(e.Values); err != nil {
		return err
	}
	for _, x := range []*Export{e, e.Identity} {
		x.PctOfTinkAll = 100 * x.ValuesPerSecond / b.rep.TinkLimit.AllCoresPerSec
		x.PctOfTinkOne = 100 * x.ValuesPerSecond / b.rep.TinkLimit.OneCorePerSec
	}
	b.rep.Export = e
	return nil
}

func (b *bench) export(ctx context.Context, t *fvTarget) (*Export, error) {
	e := &Export{Runs: b.cfg.exportRuns}
	pid := b.pids[targetFV]
	if pid > 0 {
		e.ServerRSSStart, _ = procRSS(pid)
		e.ServerRSSPeak = e.ServerRSSStart
	}
	var times []float64
	var acc cpuAcc
	for range b.cfg.exportRuns {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		if pid > 0 {
			wg.Go(func() {
				t := time.NewTicker(20 * time.Millisecond)
				defer t.Stop()
				for {
					if rss, ok := procRSS(pid); ok {
						e.ServerRSSPeak = max(e.ServerRSSPeak, rss)
					}
					select {
					case <-stop:
						return
					case <-t.C:
					}
				}
			})
		}
		m := startCPU(b.pids)
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		rows, bytes, err := t.readBatches(rctx, 0, 0)
		cancel()
		took := time.Since(start)
		acc.add(m, targetFV)
		close(stop)
		wg.Wait()
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		e.Rows, e.ArrowBytes = rows, bytes
		times = append(times, took.Seconds())
	}
	slices.Sort(times)
	e.Values = e.Rows * benchdata.Fields
	e.BestSeconds, e.MedianSeconds = times[0], times[len(times)/2]
	e.ValuesPerSecond = float64(e.Values) / e.BestSeconds
	e.CPU = acc.use(&loadgen.Result{Ops: []loadgen.OpResult{{Count: uint64(b.cfg.exportRuns)}}}) // #nosec G115 -- exportRuns is a positive flag value
	fmt.Fprintf(b.out, "%-14s %-13s c=1   %d rows, best %.2f s, %.2f M values/s\n", "export", t.name, e.Rows, e.BestSeconds, e.ValuesPerSecond/1e6)
	return e, nil
}

func (b *bench) measureTink(values int64) error {
	t, err := measureTinkLimit(values, b.cfg.tinkKeys)
	if err != nil {
		return fmt.Errorf("tink limit: %w", err)
	}
	b.rep.TinkLimit = t
	return nil
}

// profilePhase takes CPU and allocation profiles from the server's pprof
// endpoint while it serves each online workload.
func (b *bench) profilePhase(ctx context.Context) error {
	if err := os.MkdirAll(b.cfg.profileDir, 0o755); err != nil { // #nosec G301 -- benchmark profiles are meant to be shared
		return err
	}
	secs := b.cfg.profileSeconds
	work := []struct {
		name    string
		clients int
		ops     []loadgen.Op
	}{
		{onlineName(1), 1, []loadgen.Op{withWeight(b.fv.onlineOp(1), 1)}},
		{onlineName(1), b.cfg.clients, []loadgen.Op{withWeight(b.fv.onlineOp(1), 1)}},
		{onlineName(100), 1, []loadgen.Op{withWeight(b.fv.onlineOp(100), 1)}},
		{"mix", b.cfg.clients, b.mixOps},
		{"export", 1, []loadgen.Op{withWeight(b.fv.batchOp(0, 0), 1)}},
	}
	hc := &http.Client{}
	for _, w := range work {
		label := fmt.Sprintf("%s-c%d", w.name, w.clients)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, kind := range []string{"profile", "allocs"} {
			path := filepath.Join(b.cfg.profileDir, fmt.Sprintf("%s-%s.pprof", map[string]string{"profile": "cpu", "allocs": "allocs"}[kind], label))
			wg.Go(func() {
				errs[i] = fetchProfile(ctx, hc, fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", strings.TrimSuffix(b.cfg.pprofURL, "/"), kind, secs), path)
			})
			b.rep.Profiles = append(b.rep.Profiles, ProfileFile{Kind: map[string]string{"profile": "cpu", "allocs": "allocs"}[kind], Workload: label, Path: path})
		}
		m := startCPU(b.pids)
		res, err := loadgen.Run(ctx, loadgen.Config{Clients: w.clients, Duration: time.Duration(secs)*time.Second + 500*time.Millisecond, Seed: b.cfg.seedRNG + 555}, w.ops)
		if err != nil {
			return err
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		var acc cpuAcc
		acc.add(m, targetFV)
		b.addPhase(&Phase{Name: w.name, Target: targetFV, Clients: w.clients, Rounds: 1, ElapsedS: res.Elapsed.Seconds(), Ops: res.Ops, CPU: acc.use(res), Profiled: true})
	}
	return nil
}

func fetchProfile(ctx context.Context, hc *http.Client, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s answered %s", url, res.Status)
	}
	f, err := os.Create(path) // #nosec G304 -- the profile path given by the operator's flag
	if err != nil {
		return err
	}
	_, err = io.Copy(f, res.Body)
	return errors.Join(err, f.Close())
}
