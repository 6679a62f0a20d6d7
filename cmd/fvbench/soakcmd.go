package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newSoakCmd() *cobra.Command {
	cfg := defaultSoakConfig()
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Run mixed traffic for minutes and check the server's goroutines and heap stay flat, with no unexpected error",
		Long: `Soak seeds a small benchmark view (--entities × 50 float64 fields; skipped
when present), creates a principal that may read, write and aggregate it
for purpose "inference" and one with no grant, warms up for --warmup, then
runs --mix at --clients for --duration: online reads, writes over a
bounded set of event times, batch reads and whole-view exports, a
differentially private count now and then, requests that must be denied
(no grant, strict mode, admin calls, a forged token) and malformed
requests that must be refused (unknown view, no entity, wrong type, no
event time, bad epsilon).

It samples the server's goroutine count and live heap (after a forced GC)
through its net/http/pprof endpoint (--pprof; "fvbench serve" prints it),
under load every --interval and at quiet checkpoints: the run is cut into
segments (one per 30 s, 3 to 20), and after each the load pauses and its
idle connections close. It passes when no operation failed unexpectedly
and every refusal had its expected code; no checkpoint has more than
--goroutine-slack goroutines above the first; and the retained heap (the
live heap without Badger's block caches, which fill toward their cap of
256 MiB each by design) at the last checkpoints is at most --heap-growth
(plus --heap-floor) above the first. Samples under load are reported, not
judged: they measure allocation rate more than retention.

  fvbench serve --data DIR &      # prints the server's and pprof's URLs
  fvbench soak --target URL --token-file DIR/admin.token --pprof PPROF_URL --duration 5m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := runSoak(cmd.Context(), cfg, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			if len(rep.Problems) > 0 {
				return fmt.Errorf("soak failed: %s", strings.Join(rep.Problems, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.target, "target", cfg.target, "URL of the FeatureVault server (loopback only)")
	f.StringVar(&cfg.tokenFile, "token-file", "", "file holding an admin bearer token, e.g. DATA/admin.token (or set FEATUREVAULT_TOKEN)")
	f.StringVar(&cfg.token, "token", "", "admin bearer token (prefer --token-file: flags show up in ps)")
	f.StringVar(&cfg.pprofURL, "pprof", "", "URL of the server's net/http/pprof, as \"fvbench serve\" prints it (loopback only; required)")
	f.IntVar(&cfg.serverPID, "server-pid", 0, "pid of the server, to report its RSS too")
	f.IntVar(&cfg.entities, "entities", cfg.entities, "entities in the benchmark view (each 50 float64 fields)")
	f.IntVar(&cfg.clients, "clients", cfg.clients, "concurrent clients")
	f.DurationVar(&cfg.duration, "duration", cfg.duration, "length of the measured run (at most 30m)")
	f.DurationVar(&cfg.warmup, "warmup", cfg.warmup, "unmeasured load before the quiet start sample")
	f.DurationVar(&cfg.interval, "interval", 0, "time between samples under load (0: duration/30, within 1s..30s)")
	f.DurationVar(&cfg.settle, "settle", cfg.settle, "how long goroutines get to wind down at a quiet checkpoint")
	f.StringVar(&cfg.mix, "mix", cfg.mix, "weights: online1, online100, write, batch, export, aggregate, denied, bad")
	f.IntVar(&cfg.writeRows, "write-rows", cfg.writeRows, "rows per write")
	f.IntVar(&cfg.versions, "versions", cfg.versions, "event times per entity that writes pick from (bounds the data set)")
	f.IntVar(&cfg.batchRows, "batch-rows", cfg.batchRows, "rows a batch read takes before it stops")
	f.IntVar(&cfg.goroutineSlack, "goroutine-slack", cfg.goroutineSlack, "goroutines a quiet checkpoint may have above the first")
	f.Float64Var(&cfg.heapGrowth, "heap-growth", cfg.heapGrowth, "allowed growth of the retained heap, first quiet checkpoint to last (0.2: 20%)")
	f.Uint64Var(&cfg.heapFloor, "heap-floor", cfg.heapFloor, "bytes of live-heap growth always allowed")
	f.StringVar(&cfg.jsonOut, "json", cfg.jsonOut, "file to write the JSON report to (empty: none)")
	return cmd
}
