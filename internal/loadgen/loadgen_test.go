package loadgen_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/loadgen"
)

func TestHistogramQuantilesWithinPrecision(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var h loadgen.Histogram
	var exact []time.Duration
	for range 100_000 {
		// log-uniform between 1 µs and 100 ms, like latencies
		d := time.Duration(math.Exp(math.Log(1e3) + r.Float64()*(math.Log(1e8)-math.Log(1e3))))
		h.Record(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
		want := exact[int(math.Ceil(q*float64(len(exact))))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.01 {
			t.Errorf("Quantile(%v) = %v, want %v within 1%% (off by %.2f%%)", q, got, want, rel*100)
		}
	}
	if got, want := h.Max(), exact[len(exact)-1]; got != want {
		t.Errorf("Max() = %v, want %v", got, want)
	}
	if got, want := h.Count(), uint64(len(exact)); got != want {
		t.Errorf("Count() = %d, want %d", got, want)
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	t.Parallel()
	var h loadgen.Histogram
	for v := range 200 {
		h.Record(time.Duration(v + 1))
	}
	if got := h.Quantile(0.5); got != 100 {
		t.Errorf("Quantile(0.5) = %v, want 100ns", got)
	}
	var merged loadgen.Histogram
	merged.Merge(&h)
	merged.Merge(&h)
	if got := merged.Count(); got != 400 {
		t.Errorf("merged Count() = %d, want 400", got)
	}
	if got := merged.Min(); got != 1 {
		t.Errorf("merged Min() = %v, want 1ns", got)
	}
}

func TestRunStopsAfterRequestBudget(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	mix := []loadgen.Op{
		{Name: "a", Weight: 3, Do: func(context.Context, *loadgen.Worker) (int64, error) { calls.Add(1); return 50, nil }},
		{Name: "b", Weight: 1, Do: func(context.Context, *loadgen.Worker) (int64, error) { calls.Add(1); return 0, errors.New("boom") }},
	}
	res, err := loadgen.Run(t.Context(), loadgen.Config{Clients: 4, Requests: 4000, Duration: time.Minute, Seed: 7}, mix)
	if err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 4000 {
		t.Errorf("operations run = %d, want 4000", got)
	}
	a, b := res.Op("a"), res.Op("b")
	if a.Count+b.Errors != 4000 || a.Errors != 0 || b.Count != 0 {
		t.Errorf("a = %d ok / %d errors, b = %d ok / %d errors; want 4000 in all, a never failing, b always", a.Count, a.Errors, b.Count, b.Errors)
	}
	if share := float64(a.Count) / 4000; share < 0.70 || share > 0.80 {
		t.Errorf("share of a = %.3f, want about 0.75 (weight 3 of 4)", share)
	}
	if len(b.ErrorSamples) != 1 || b.ErrorSamples[0] != "boom" {
		t.Errorf("b.ErrorSamples = %q, want [boom]", b.ErrorSamples)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	t.Parallel()
	mix := []loadgen.Op{{Name: "sleep", Weight: 1, Do: func(ctx context.Context, _ *loadgen.Worker) (int64, error) {
		time.Sleep(time.Millisecond)
		return 0, nil
	}}}
	start := time.Now()
	res, err := loadgen.Run(t.Context(), loadgen.Config{Clients: 2, Duration: 200 * time.Millisecond}, mix)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("run took %v, want about 200ms", took)
	}
	if op := res.Op("sleep"); op.Count == 0 || op.Latency.P50 < 1000 {
		t.Errorf("sleep: count %d p50 %.0fµs, want some operations of at least 1ms", op.Count, op.Latency.P50)
	}
}

func TestRunOpenLoopKeepsRate(t *testing.T) {
	t.Parallel()
	mix := []loadgen.Op{{Name: "noop", Weight: 1, Do: func(context.Context, *loadgen.Worker) (int64, error) { return 0, nil }}}
	res, err := loadgen.Run(t.Context(), loadgen.Config{Clients: 2, Duration: 500 * time.Millisecond, Rate: 200}, mix)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Op("noop").Count; got < 80 || got > 110 {
		t.Errorf("open loop at 200/s for 0.5s ran %d operations, want about 100", got)
	}
}

func TestRunRefusesUnboundedRun(t *testing.T) {
	t.Parallel()
	mix := []loadgen.Op{{Name: "x", Weight: 1, Do: func(context.Context, *loadgen.Worker) (int64, error) { return 0, nil }}}
	if _, err := loadgen.Run(t.Context(), loadgen.Config{Clients: 1}, mix); err == nil {
		t.Error("Run with neither duration nor request count: got no error, want one")
	}
}
