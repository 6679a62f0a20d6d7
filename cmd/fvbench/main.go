// Command fvbench measures a FeatureVault server under load and compares
// it, in the same run, with a plaintext Redis online store read the way
// Feast reads it, with a do-nothing Connect server answering the same
// bytes, and with a raw Tink decrypt loop (the physical limit).
//
// Every run is bounded in time and requests and stops by itself, and
// sends load only to loopback addresses unless --allow-remote is given.
// scripts/bench.sh runs the whole comparison and regenerates the fvbench
// section at the top of BENCHMARKS.md ("Online reads over the network").
//
//	fvbench run --target http://127.0.0.1:8433 --token-file DATA/admin.token --redis 127.0.0.1:6390
//	fvbench serve --data DIR        # the server with net/http/pprof, for profiling
//	fvbench noop --target URL ...   # the do-nothing Connect baseline in its own process
//	fvbench markdown --in report.json --file BENCHMARKS.md
//	fvbench soak --target URL --token-file DIR/admin.token --pprof URL --duration 5m
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fvbench:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "fvbench",
		Short:         "Bounded load generator and side-by-side benchmark for FeatureVault",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newServeCmd(), newNoopCmd(), newMarkdownCmd(), newSoakCmd())
	return root
}

func newRunCmd() *cobra.Command {
	cfg := defaultRunConfig()
	var phases string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Seed the benchmark view, run the phases and report throughput and latency per operation",
		Long: `Run seeds the benchmark view (entities × 50 float64 fields, through
WriteFeatures; skipped when the server already holds it), creates a
non-admin principal that may read and write it for purpose "inference",
and runs the phases (--phases):

  compare  online reads of 1×50 and 100×50 at 1 client on FeatureVault, on
           the noop Connect server and on Redis (with --redis), in
           interleaved rounds
  scale    online 1×50 at --clients on the same targets
  mix      the weighted --mix on FeatureVault at --clients
  export   ReadBatches of the whole view, and the raw Tink decrypt limit
  profile  CPU and allocation profiles from --pprof under each workload
  writes   durable write throughput (WriteFeatures of --write-batch rows
           from --write-clients callers), then online 1×50 reads at 1 client
           and at --clients, alone and beside a writer at --write-share of
           that throughput

It prints throughput and p50/p95/p99/p99.9/max per operation, the medians
of each over the rounds, the server's CPU per request and memory (with
--server-pid), the FeatureVault/baseline ratio per percentile and the
targets of issues 7 and 13, and writes everything to --json. Each phase runs at most --duration (and
--requests) per target; a run always ends by itself.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.phases = splitList(phases)
			rep, err := runBench(cmd.Context(), cfg, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if p := rep.problems(); len(p) > 0 {
				return fmt.Errorf("%d operations failed: %s", len(p), strings.Join(p, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.target, "target", cfg.target, "URL of the FeatureVault server (loopback only, unless --allow-remote)")
	f.StringVar(&cfg.tokenFile, "token-file", "", "file holding an admin bearer token, e.g. DATA/admin.token (or set FEATUREVAULT_TOKEN)")
	f.StringVar(&cfg.token, "token", "", "admin bearer token (prefer --token-file: flags show up in ps)")
	f.BoolVar(&cfg.asAdmin, "as-admin", false, "load with the admin token itself instead of a principal created for the run")
	f.BoolVar(&cfg.allowRemote, "allow-remote", false, "allow targets that are not loopback addresses")
	f.IntVar(&cfg.entities, "entities", cfg.entities, "entities in the benchmark view (each 50 float64 fields)")
	f.BoolVar(&cfg.seed, "seed", cfg.seed, "write the dataset when the server does not hold it yet")
	f.IntVar(&cfg.seedBatch, "seed-batch", cfg.seedBatch, "rows per WriteFeatures call while seeding")
	f.IntVar(&cfg.seedWorkers, "seed-workers", cfg.seedWorkers, "concurrent WriteFeatures calls while seeding")
	f.StringVar(&phases, "phases", strings.Join(cfg.phases, ","), "phases to run, comma-separated: "+strings.Join(allPhases, ","))
	f.IntVar(&cfg.clients, "clients", cfg.clients, "concurrent clients of the scale, mix and profile phases")
	f.DurationVar(&cfg.duration, "duration", cfg.duration, "time each target gets in each phase (split across --rounds)")
	f.Int64Var(&cfg.requests, "requests", 0, "requests each target gets in each phase at most (0: bounded by --duration only)")
	f.IntVar(&cfg.rounds, "rounds", cfg.rounds, "interleaved rounds per comparison phase")
	f.DurationVar(&cfg.warmup, "warmup", cfg.warmup, "unrecorded warm-up before each target's first round")
	f.Float64Var(&cfg.rate, "rate", 0, "open loop: total requests per second to aim at, latency measured from when each was due (0: closed loop)")
	f.StringVar(&cfg.mix, "mix", cfg.mix, "weights of the mix phase: online1 (1×50), online100 (100×50), write, batch (ReadBatches), aggregate")
	f.IntVar(&cfg.writeRows, "write-rows", cfg.writeRows, "rows per write operation")
	addWritesFlags(f, &cfg.writes)
	f.IntVar(&cfg.batchMaxRows, "batch-rows", cfg.batchMaxRows, "rows a batch operation of the mix reads before it stops (0: the whole view)")
	f.IntVar(&cfg.exportRuns, "export-runs", cfg.exportRuns, "whole-view reads in the export phase")
	f.IntVar(&cfg.tinkKeys, "tink-keys", cfg.tinkKeys, "distinct keys in the raw Tink decrypt loop")
	f.StringVar(&cfg.redisAddr, "redis", "", "host:port of a redis-server to compare with (loopback only); empty: no Redis comparison")
	f.StringVar(&cfg.noopURL, "noop", "", "URL of a noop server (fvbench noop); empty: start one in this process")
	f.IntVar(&cfg.serverPID, "server-pid", 0, "pid of the FeatureVault server, to report its CPU time and memory")
	f.IntVar(&cfg.redisPID, "redis-pid", 0, "pid of redis-server, to report its CPU time")
	f.IntVar(&cfg.noopPID, "noop-pid", 0, "pid of the noop server, to report its CPU time")
	f.StringVar(&cfg.pprofURL, "pprof", "", "base URL of the server's net/http/pprof (fvbench serve prints it), for the profile phase")
	f.StringVar(&cfg.profileDir, "profile-dir", "fvbench-profiles", "where the profile phase writes its profiles")
	f.IntVar(&cfg.profileSeconds, "profile-seconds", cfg.profileSeconds, "length of each profile")
	f.StringVar(&cfg.jsonOut, "json", "fvbench.json", "file to write the JSON report to (empty: none)")
	f.StringVar(&cfg.seedJSON, "seed-json", "", "JSON report of an earlier seed-only run (--phases=) whose seeding figures to carry over")
	return cmd
}

func newServeCmd() *cobra.Command {
	cfg := serveConfig{listen: "127.0.0.1:0", pprof: "127.0.0.1:0", syncWrites: true}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the FeatureVault server with net/http/pprof on a second loopback port",
		Long: `Serve runs the same server as "featurevault serve" (rpc.OpenBackend and
rpc.NewServer over --data) and exposes net/http/pprof on --pprof, so that
"fvbench run --phases profile --pprof URL" can profile it under load. It
listens on loopback only. Its rate limit is off by default: a load test
would otherwise measure the limiter.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.data == "" {
				return fmt.Errorf("--data is required")
			}
			return serveBench(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.data, "data", "", "data directory of the store")
	f.StringVar(&cfg.listen, "listen", cfg.listen, "loopback address of the server")
	f.StringVar(&cfg.pprof, "pprof", cfg.pprof, "loopback address of net/http/pprof")
	f.Float64Var(&cfg.rateLimit, "rate-limit", 0, "requests per second per principal (0: no limit)")
	f.IntVar(&cfg.rateBurst, "rate-burst", 0, "burst above --rate-limit")
	f.BoolVar(&cfg.syncWrites, "sync-writes", cfg.syncWrites, "sync each write to disk, as featurevault serve does")
	f.BoolVar(&cfg.groupCommit, "group-commit", true, "with --sync-writes, let concurrent writes share one sync, as featurevault serve does; false: every commit syncs before it is visible, which stalls reads")
	f.IntVar(&cfg.subjectCache, "subject-key-cache", 0, "unwrapped subject keys to cache (0: the keys package's default)")
	f.Int64Var(&cfg.memoryBudget, "memory-budget", 256<<20, "bytes to size the store's caches and memtables by, as featurevault serve --memory-budget; also the Go runtime's soft memory limit unless GOMEMLIMIT is set (0: the store's defaults, no limit)")
	f.IntVar(&cfg.blockRate, "block-profile-rate", 0, "record goroutines blocked this many nanoseconds or more in /debug/pprof/block (0: off; 1: every event)")
	f.IntVar(&cfg.mutexFraction, "mutex-profile-fraction", 0, "sample 1 in this many mutex contention events in /debug/pprof/mutex (0: off)")
	return cmd
}

func newNoopCmd() *cobra.Command {
	var target, tokenFile, listen string
	var entities int
	var lifetime time.Duration
	cmd := &cobra.Command{
		Use:   "noop",
		Short: "Serve a do-nothing Connect FeatureService that answers online reads with bytes taken from a real server",
		Long: `Noop fetches the answers to a 1×50 and a 100×50 online read from --target,
then serves them, unchanged, to every online read of that many entities,
doing nothing else: the transport's share of a read, in its own process
like the real server. It runs until interrupted, or for --lifetime.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			for _, c := range []error{checkLocalURL("--target", target, false), checkLocalHostPort("--listen", listen, false)} {
				if c != nil {
					return c
				}
			}
			cfg := runConfig{tokenFile: tokenFile}
			token, err := cfg.credential()
			if err != nil {
				return err
			}
			fv := newFVTarget(targetFV, target, token, "analytics", entities, newHTTPClient(2))
			canned, err := cannedResponses(ctx, fv, 1, 100)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "noop serving on http://%s\n", ln.Addr())
			ctx, cancel := context.WithTimeout(ctx, lifetime)
			defer cancel()
			return serveNoop(ctx, ln, canned)
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "target", "http://127.0.0.1:8433", "URL of the FeatureVault server to take the answers from")
	f.StringVar(&tokenFile, "token-file", "", "file holding an admin bearer token (or set FEATUREVAULT_TOKEN)")
	f.StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to serve on")
	f.IntVar(&entities, "entities", 100, "entities the server holds (at least 100)")
	f.DurationVar(&lifetime, "lifetime", time.Hour, "stop after this long even if not interrupted (bounds a noop server a dead script left behind)")
	return cmd
}

func newMarkdownCmd() *cobra.Command {
	var cfg markdownConfig
	cmd := &cobra.Command{
		Use:   "markdown",
		Short: "Rewrite the fvbench section of BENCHMARKS.md (first in the file) from a JSON report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeMarkdown(cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.in, "in", "fvbench.json", "the JSON report of fvbench run")
	f.StringVar(&cfg.file, "file", "BENCHMARKS.md", "the file whose section to rewrite (created if missing)")
	f.StringVar(&cfg.commands, "commands", "", "file with the exact commands that produced the report")
	f.StringVar(&cfg.profile, "profile", "", "file with pprof -top output to include")
	f.StringVar(&cfg.inProcess, "in-process", "", "file with the output of in-process store benchmarks to include (bytes per value), labelled as in-process diagnostics")
	f.StringVar(&cfg.server, "server", "", "one line saying how the server ran")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
