// Package loadgen runs bounded load: a fixed number of concurrent clients,
// each issuing operations picked by weight from a mix, until a time limit
// or a request budget is reached, and reports throughput and latency
// percentiles per operation.
//
// A run always stops by itself: Config must bound it by Duration,
// Requests or both, and each operation runs under OpTimeout. Operations in
// flight when the time is up are allowed to finish and are counted.
//
// By default clients are closed-loop (each sends its next request when the
// previous answer arrives), which measures service time. With Rate set,
// each client follows a fixed schedule instead and latency is measured
// from the time a request was due, so that a stalled server shows up in
// the percentiles instead of silently lowering the request rate
// (coordinated omission).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one kind of operation in a mix.
type Op struct {
	// Name identifies the operation in results ("online-1x50").
	Name string
	// Weight is the operation's share of the mix, relative to the others.
	Weight int
	// Do performs the operation once and returns how many feature values
	// it read or wrote (for values/s), or an error. It must honour ctx.
	Do func(ctx context.Context, w *Worker) (values int64, err error)
}

// Worker is one simulated client. Its fields are for Do's use; a Worker
// runs one operation at a time.
type Worker struct {
	// ID numbers the workers of a run from 0.
	ID int
	// Rand is the worker's own random source (seeded from the run's seed
	// and ID, so runs are repeatable).
	Rand *rand.Rand
}

// Config bounds and shapes a run.
type Config struct {
	// Clients is the number of concurrent workers (at least 1).
	Clients int
	// Duration stops the run once elapsed (0: no time limit).
	Duration time.Duration
	// Requests stops the run after this many operations in total (0: no
	// count limit).
	Requests int64
	// OpTimeout bounds each operation (default 30 s).
	OpTimeout time.Duration
	// Rate, when positive, is the total operations per second the workers
	// aim at together (open loop); 0 runs closed loop.
	Rate float64
	// Seed seeds the workers' random sources.
	Seed uint64
}

// MaxDuration caps any run, whatever its configuration, so that a
// mistyped flag cannot leave load running.
const MaxDuration = 30 * time.Minute

// Result is what a run measured.
type Result struct {
	Clients  int           `json:"clients"`
	Elapsed  time.Duration `json:"-"`
	OpenLoop bool          `json:"open_loop"`
	Ops      []OpResult    `json:"ops"`
}

// OpResult is the measurement of one operation of a mix.
type OpResult struct {
	Name   string `json:"name"`
	Count  uint64 `json:"count"`
	Errors uint64 `json:"errors"`
	// ErrorSamples holds up to five distinct error messages, prefixed by
	// their Connect code when they have one.
	ErrorSamples []string  `json:"error_samples,omitempty"`
	PerSecond    float64   `json:"per_second"`
	ValuesPerSec float64   `json:"values_per_second,omitempty"`
	Latency      Latencies `json:"latency_us"`
	hist         *Histogram
}

// Histogram returns the latencies recorded for the operation (successful
// operations only).
func (o *OpResult) Histogram() *Histogram { return o.hist }

// Latencies are percentiles of one operation's latency, in microseconds.
type Latencies struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// LatenciesOf summarises h.
func LatenciesOf(h *Histogram) Latencies {
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return Latencies{
		P50: us(h.Quantile(0.50)), P95: us(h.Quantile(0.95)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max()), Mean: us(h.Mean()),
	}
}

// Op returns the result of the named operation, or nil.
func (r *Result) Op(name string) *OpResult {
	for i := range r.Ops {
		if r.Ops[i].Name == name {
			return &r.Ops[i]
		}
	}
	return nil
}

// Merge combines results of runs of the same mix (for example rounds
// interleaved with another target's): counts add up, histograms merge,
// and rates are recomputed over the summed elapsed time.
func Merge(rs ...*Result) *Result {
	if len(rs) == 0 {
		return &Result{}
	}
	out := &Result{Clients: rs[0].Clients, OpenLoop: rs[0].OpenLoop}
	type acc struct {
		r      OpResult
		values float64
	}
	byName := map[string]*acc{}
	var order []string
	for _, r := range rs {
		out.Elapsed += r.Elapsed
		for _, o := range r.Ops {
			a := byName[o.Name]
			if a == nil {
				a = &acc{r: OpResult{Name: o.Name, hist: &Histogram{}}}
				byName[o.Name] = a
				order = append(order, o.Name)
			}
			a.r.Count += o.Count
			a.r.Errors += o.Errors
			a.r.ErrorSamples = appendSamples(a.r.ErrorSamples, o.ErrorSamples...)
			a.values += o.ValuesPerSec * r.Elapsed.Seconds()
			a.r.hist.Merge(o.hist)
		}
	}
	for _, name := range order {
		a := byName[name]
		a.r.PerSecond = float64(a.r.Count) / out.Elapsed.Seconds()
		a.r.ValuesPerSec = a.values / out.Elapsed.Seconds()
		a.r.Latency = LatenciesOf(a.r.hist)
		out.Ops = append(out.Ops, a.r)
	}
	return out
}

const maxErrorSamples = 5

func appendSamples(s []string, msgs ...string) []string {
	for _, m := range msgs {
		if len(s) < maxErrorSamples && !contains(s, m) {
			s = append(s, m)
		}
	}
	return s
}

func contains(s []string, m string) bool {
	for _, x := range s {
		if x == m {
			return true
		}
	}
	return false
}

// workerStats is what one worker measured, per operation.
type workerStats struct {
	hist   []Histogram
	count  []uint64
	errs   []uint64
	values []int64
	msgs   [][]string
}

// Run runs the mix under cfg and returns what it measured. It returns an
// error only for a configuration that would not stop by itself or has
// nothing to run; failed operations are counted in the result.
func Run(ctx context.Context, cfg Config, mix []Op) (*Result, error) {
	if cfg.Clients < 1 {
		return nil, fmt.Errorf("loadgen: %d clients; run at least 1", cfg.Clients)
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return nil, errors.New("loadgen: unbounded run; set a duration, a request count or both")
	}
	if cfg.Duration <= 0 || cfg.Duration > MaxDuration {
		cfg.Duration = MaxDuration
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 30 * time.Second
	}
	var total int
	for _, op := range mix {
		if op.Weight < 0 {
			return nil, fmt.Errorf("loadgen: operation %s has negative weight %d", op.Name, op.Weight)
		}
		total += op.Weight
	}
	if total == 0 {
		return nil, errors.New("loadgen: every operation of the mix has weight 0; give one a positive weight")
	}
	// cumulative weights, for picking
	cum := make([]int, len(mix))
	acc := 0
	for i, op := range mix {
		acc += op.Weight
		cum[i] = acc
	}

	var claimed atomic.Int64
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	stats := make([]*workerStats, cfg.Clients)
	var wg sync.WaitGroup
	for id := range cfg.Clients {
		ws := &workerStats{
			hist: make([]Histogram, len(mix)), count: make([]uint64, len(mix)),
			errs: make([]uint64, len(mix)), values: make([]int64, len(mix)), msgs: make([][]string, len(mix)),
		}
		stats[id] = ws
		w := &Worker{ID: id, Rand: rand.New(rand.NewPCG(cfg.Seed, uint64(id)+1))} // #nosec G404 -- load shapes need reproducible, seeded randomness, not secrets
		var interval time.Duration
		if cfg.Rate > 0 {
			interval = time.Duration(float64(cfg.Clients) / cfg.Rate * float64(time.Second))
		}
		wg.Go(func() {
			// spread the workers' first requests over one interval
			due := start.Add(time.Duration(float64(interval) * float64(id) / float64(cfg.Clients)))
			for ctx.Err() == nil {
				if cfg.Requests > 0 && claimed.Add(1) > cfg.Requests {
					return
				}
				now := time.Now()
				if interval > 0 {
					if due.After(deadline) {
						return
					}
					if wait := due.Sub(now); wait > 0 {
						select {
						case <-time.After(wait):
						case <-ctx.Done():
							return
						}
					}
					now = due
					due = due.Add(interval)
				} else if !now.Before(deadline) {
					return
				}
				i := sort.SearchInts(cum, w.Rand.IntN(total)+1)
				octx, cancel := context.WithTimeout(ctx, cfg.OpTimeout)
				values, err := mix[i].Do(octx, w)
				cancel()
				elapsed := time.Since(now)
				if err != nil {
					if ctx.Err() != nil {
						return // interrupted, not failed
					}
					ws.errs[i]++
					ws.msgs[i] = appendSamples(ws.msgs[i], describe(err))
					continue
				}
				ws.count[i]++
				ws.values[i] += values
				ws.hist[i].Record(elapsed)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := &Result{Clients: cfg.Clients, Elapsed: elapsed, OpenLoop: cfg.Rate > 0}
	for i, op := range mix {
		o := OpResult{Name: op.Name, hist: &Histogram{}}
		var values int64
		for _, ws := range stats {
			o.Count += ws.count[i]
			o.Errors += ws.errs[i]
			values += ws.values[i]
			o.ErrorSamples = appendSamples(o.ErrorSamples, ws.msgs[i]...)
			o.hist.Merge(&ws.hist[i])
		}
		o.PerSecond = float64(o.Count) / elapsed.Seconds()
		o.ValuesPerSec = float64(values) / elapsed.Seconds()
		o.Latency = LatenciesOf(o.hist)
		res.Ops = append(res.Ops, o)
	}
	return res, ctx.Err()
}

// describe turns an error into a sample message (a Connect error's text
// starts with its code). Servers never put a feature value in an error.
func describe(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "operation timeout: " + msg
	}
	return msg
}
