package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/internal/loadgen"
)

// phaseWrites measures durable write throughput, then online reads beside
// a writer (--phases writes).
const phaseWrites = "writes"

// Names of the writes phase's results.
const (
	writeThroughputName = "write-throughput"
	readsQuietName      = "reads-quiet"         // online 1×50, no writer
	readsWritingName    = "reads-beside-writes" // the same beside a fixed-rate writer
)

// writesConfig is the writes phase's part of runConfig.
type writesConfig struct {
	clients int     // concurrent WriteFeatures callers of the throughput run
	rows    int     // rows per WriteFeatures call of the throughput run
	share   float64 // the background writer's rate, as a share of the throughput measured
}

func defaultWritesConfig() writesConfig { return writesConfig{clients: 8, rows: 500, share: 0.10} }

// addWritesFlags defines the writes phase's flags on run.
func addWritesFlags(f *pflag.FlagSet, c *writesConfig) {
	f.IntVar(&c.clients, "write-clients", c.clients, "concurrent WriteFeatures callers in the writes phase's throughput run")
	f.IntVar(&c.rows, "write-batch", c.rows, "rows per WriteFeatures call in the writes phase's throughput run")
	f.Float64Var(&c.share, "write-share", c.share, "the writes phase's background writer runs at this share of the write throughput measured, in calls of --write-rows rows")
}

func (c writesConfig) check() error {
	switch {
	case c.clients < 1:
		return fmt.Errorf("--write-clients %d: give at least 1", c.clients)
	case c.rows < 1 || c.rows > 10_000:
		return fmt.Errorf("--write-batch %d: give 1 to 10000 rows", c.rows)
	case c.share <= 0 || c.share > 1:
		return fmt.Errorf("--write-share %g: give a share above 0, at most 1 (0.1 is 10%%)", c.share)
	}
	return nil
}

// writesPhase runs WriteFeatures of --write-batch rows × 50 values from
// --write-clients callers, closed loop, for --duration: the durable write
// throughput (every call returns once its rows are fsynced). Then, in
// --rounds interleaved rounds, online 1×50 reads at 1 client and at
// --clients, each first alone and then beside a writer sending calls of
// --write-rows rows at --write-share of that throughput (open loop): what
// a steady stream of writes, each waiting for its fsync, does to reads.
func (b *bench) writesPhase(ctx context.Context) error {
	wc := b.cfg.writes
	op := b.fv.writeOp(wc.rows)
	if err := b.warm(ctx, wc.clients, []loadgen.Op{op}); err != nil {
		return err
	}
	m := startCPU(b.pids)
	res, err := loadgen.Run(ctx, loadgen.Config{Clients: wc.clients, Duration: b.cfg.duration, Requests: b.cfg.requests, Seed: b.cfg.seedRNG + 4242}, []loadgen.Op{withWeight(op, 1)})
	if err != nil {
		return err
	}
	var acc cpuAcc
	acc.add(m, targetFV)
	b.addPhase(&Phase{Name: writeThroughputName, Target: targetFV, Clients: wc.clients, Rounds: 1, ElapsedS: res.Elapsed.Seconds(), Ops: res.Ops, CPU: acc.use(res)})
	w := res.Ops[0]
	vps := w.ValuesPerSec
	var srvPerValue float64
	if u := acc.use(res); u.ServerUsPerOp > 0 {
		srvPerValue = u.ServerUsPerOp / float64(wc.rows*benchdata.Fields)
	}
	b.note("durable writes: %.0f values/s (%.0f calls/s of %d rows × %d values, %d callers, p50 %.1f ms, p99 %.1f ms, %d errors); server CPU %.2f µs per value",
		vps, w.PerSecond, wc.rows, benchdata.Fields, wc.clients, w.Latency.P50/1e3, w.Latency.P99/1e3, w.Errors, srvPerValue)
	fmt.Fprintln(b.out, b.rep.Notes[len(b.rep.Notes)-1])
	if vps <= 0 {
		return fmt.Errorf("the write throughput run wrote nothing (%d errors); see its error samples", w.Errors)
	}

	// The background writer: small calls, as a stream of fresh features.
	bgRate := wc.share * vps / float64(b.cfg.writeRows*benchdata.Fields)
	bg := b.fv.writeOp(b.cfg.writeRows)
	read := b.fv.onlineOp(1)
	for _, clients := range []int{1, b.cfg.clients} {
		if err := b.warm(ctx, clients, []loadgen.Op{read}); err != nil {
			return err
		}
		var quiet, writing, writer []*loadgen.Result
		var qCPU, wCPU cpuAcc
		for r := range b.cfg.rounds {
			c := b.roundConfig(clients, r)
			c.Rate = 0
			m := startCPU(b.pids)
			res, err := loadgen.Run(ctx, c, []loadgen.Op{withWeight(read, 1)})
			if err != nil {
				return err
			}
			qCPU.add(m, targetFV)
			quiet = append(quiet, res)

			bgCfg := loadgen.Config{Clients: 4, Duration: c.Duration, Rate: bgRate, Seed: c.Seed + 17}
			bgDone := make(chan *loadgen.Result, 1)
			bgErr := make(chan error, 1)
			go func() {
				res, err := loadgen.Run(ctx, bgCfg, []loadgen.Op{withWeight(bg, 1)})
				bgDone <- res
				bgErr <- err
			}()
			m = startCPU(b.pids)
			res, err = loadgen.Run(ctx, c, []loadgen.Op{withWeight(read, 1)})
			wres, werr := <-bgDone, <-bgErr
			if err != nil {
				return err
			}
			if werr != nil {
				return werr
			}
			wCPU.add(m, targetFV)
			writing = append(writing, res)
			writer = append(writer, wres)
		}
		q, wr, bgRes := loadgen.Merge(quiet...), loadgen.Merge(writing...), loadgen.Merge(writer...)
		b.addPhase(&Phase{Name: readsQuietName, Target: targetFV, Clients: clients, Rounds: b.cfg.rounds, ElapsedS: q.Elapsed.Seconds(), Ops: q.Ops, CPU: qCPU.use(q)})
		// The writer's own figures ride along in the same phase, after the reads.
		b.addPhase(&Phase{Name: readsWritingName, Target: targetFV, Clients: clients, Rounds: b.cfg.rounds, ElapsedS: wr.Elapsed.Seconds(), Ops: append(wr.Ops, bgRes.Ops...), CPU: wCPU.use(wr)})
		if len(bgRes.Ops) > 0 {
			o := bgRes.Ops[0]
			b.note("reads beside writes, %d read client(s): the writer aimed at %.1f calls/s of %d rows (%.0f values/s, %.0f%% of the throughput) and made %.1f calls/s (%.0f values/s), p99 %.1f ms, %d errors",
				clients, bgRate, b.cfg.writeRows, bgRate*float64(b.cfg.writeRows*benchdata.Fields), wc.share*100, o.PerSecond, o.ValuesPerSec, o.Latency.P99/1e3, o.Errors)
		}
	}
	return nil
}
