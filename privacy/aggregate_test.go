package privacy_test

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/featurevault/featurevault/privacy"
)

type row struct {
	subject string
	value   float64
}

func feedOf(rows []row) privacy.Feed {
	return func(emit func([]byte, float64) error) error {
		for _, r := range rows {
			if err := emit([]byte(r.subject), r.value); err != nil {
				return err
			}
		}
		return nil
	}
}

var (
	nan, inf = math.NaN(), math.Inf(1)
	// knownRows, sorted by subject. With bounds [0, 10] and N = 2 the rows
	// kept are a:4, a:6 (a:8 is a third row), b:3 (NaN dropped before
	// bounding), c:10 (15 clamped), d:0 (-2 clamped), d:2.5, e:10 (+Inf
	// clamped): count 7, sum 35.5.
	knownRows = []row{{"a", 4}, {"a", 6}, {"a", 8}, {"b", nan}, {"b", 3}, {"c", 15}, {"d", -2}, {"d", 2.5}, {"e", inf}}
	// knownRowsShuffled holds the same rows, subjects interleaved, each
	// subject's rows in the same relative order.
	knownRowsShuffled = []row{{"a", 4}, {"b", nan}, {"c", 15}, {"a", 6}, {"d", -2}, {"b", 3}, {"a", 8}, {"e", inf}, {"d", 2.5}}
	knownEdges        = []float64{0, 2.5, 5, 7.5, 10}
)

func TestAggregateArithmeticIsExactWithoutNoise(t *testing.T) {
	t.Parallel()
	base := privacy.Query{Epsilon: 1, Bounds: [2]float64{0, 10}, MaxContributions: 2, Buckets: knownEdges}
	tests := []struct {
		fn   privacy.Fn
		want privacy.Result
	}{
		{privacy.Count, privacy.Result{Fn: privacy.Count, Value: 7}},
		{privacy.Sum, privacy.Result{Fn: privacy.Sum, Value: 35.5, GridStep: 0x1p-16}}, // Δ = 2·10, 2^-16 ≤ 20/2^20
		{privacy.Mean, privacy.Result{Fn: privacy.Mean, Value: 5 + 0.5/7, GridStep: 0x1p-17}},
		// Histogram ignores bounds: -2 counts in the first bucket, 15 and
		// +Inf in the last, 2.5 in the bucket it opens.
		{privacy.Histogram, privacy.Result{Fn: privacy.Histogram, Counts: []int64{1, 3, 1, 2}}},
	}
	for _, tt := range tests {
		for _, mode := range []struct {
			name string
			rows []row
			opts privacy.Options
		}{
			{"sorted", knownRows, privacy.DefaultOptions().WithSortedSubjects(true)},
			{"any order", knownRowsShuffled, privacy.DefaultOptions()},
		} {
			t.Run(fmt.Sprintf("%s/%s", tt.fn, mode.name), func(t *testing.T) {
				t.Parallel()
				q := base
				q.Fn = tt.fn
				got, err := privacy.Aggregate(q, feedOf(mode.rows), mode.opts.WithoutNoise())
				if err != nil {
					t.Fatal(err)
				}
				want := tt.want
				want.Spent = privacy.Budget{Epsilon: 1}
				want.Mechanism = privacy.MechanismDiscreteLaplace
				if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".StdDev" }, cmp.Ignore())); diff != "" {
					t.Errorf("Aggregate mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestContributionBoundingLimitsInfluence adds one subject with 1000 rows to
// a dataset: the true count moves by exactly N (at most N is the
// guarantee), and the true sum by at most N·max(|lo|, |hi|).
func TestContributionBoundingLimitsInfluence(t *testing.T) {
	t.Parallel()
	var base []row
	for i := range 50 {
		base = append(base, row{fmt.Sprintf("s%03d", i), float64(i % 10)})
	}
	heavy := make([]row, 1000)
	for i := range heavy {
		heavy[i] = row{"s025x", 10}
	}
	sorted := slices.Concat(base[:26], heavy, base[26:]) // "s025x" sorts after "s025"
	var interleaved []row
	for i, r := range heavy {
		interleaved = append(interleaved, r)
		if i < len(base) {
			interleaved = append(interleaved, base[i])
		}
	}
	for _, n := range []int{1, 3, 10} {
		for _, mode := range []struct {
			name string
			rows []row
			opts privacy.Options
		}{
			{"sorted", sorted, privacy.DefaultOptions().WithSortedSubjects(true)},
			{"any order", interleaved, privacy.DefaultOptions()},
		} {
			t.Run(fmt.Sprintf("N=%d/%s", n, mode.name), func(t *testing.T) {
				t.Parallel()
				q := privacy.Query{Epsilon: 1, Bounds: [2]float64{-10, 10}, MaxContributions: n}
				run := func(fn privacy.Fn, rows []row, opts privacy.Options) float64 {
					q.Fn = fn
					r, err := privacy.Aggregate(q, feedOf(rows), opts.WithoutNoise())
					if err != nil {
						t.Fatal(err)
					}
					return r.Value
				}
				plain := privacy.DefaultOptions()
				if d := run(privacy.Count, mode.rows, mode.opts) - run(privacy.Count, base, plain); d != float64(n) {
					t.Errorf("count moved by %v, want exactly N = %d", d, n)
				}
				if d := run(privacy.Sum, mode.rows, mode.opts) - run(privacy.Sum, base, plain); math.Abs(d) > float64(n)*10 {
					t.Errorf("sum moved by %v, more than N·10 = %d", d, n*10)
				}
			})
		}
	}
}

func TestSortedSubjectsPromiseIsChecked(t *testing.T) {
	t.Parallel()
	q := privacy.Query{Fn: privacy.Count, Epsilon: 1, MaxContributions: 1}
	_, err := privacy.Aggregate(q, feedOf(knownRowsShuffled), privacy.DefaultOptions().WithSortedSubjects(true))
	if !errors.Is(err, privacy.ErrUnsortedFeed) {
		t.Errorf("error = %v, want ErrUnsortedFeed", err)
	}
}

func TestAggregateReturnsFeedError(t *testing.T) {
	t.Parallel()
	boom := errors.New("store: corrupt row")
	feed := func(emit func([]byte, float64) error) error {
		if err := emit([]byte("a"), 1); err != nil {
			return err
		}
		return boom
	}
	q := privacy.Query{Fn: privacy.Count, Epsilon: 1, MaxContributions: 1}
	if _, err := privacy.Aggregate(q, feed, privacy.DefaultOptions()); !errors.Is(err, boom) {
		t.Errorf("error = %v, want the feed's error", err)
	}
}

func TestQueryRefusesBadParameters(t *testing.T) {
	t.Parallel()
	ok := privacy.Query{Fn: privacy.Sum, Epsilon: 1, Bounds: [2]float64{0, 1}, MaxContributions: 1, Buckets: []float64{0, 1}}
	tests := []struct {
		name string
		edit func(*privacy.Query)
		want error
	}{
		{"no function", func(q *privacy.Query) { q.Fn = "" }, privacy.ErrInvalidQuery},
		{"unknown function", func(q *privacy.Query) { q.Fn = "median" }, privacy.ErrInvalidQuery},
		{"epsilon NaN", func(q *privacy.Query) { q.Epsilon = nan }, privacy.ErrInvalidEpsilon},
		{"epsilon infinite", func(q *privacy.Query) { q.Epsilon = inf }, privacy.ErrInvalidEpsilon},
		{"epsilon zero", func(q *privacy.Query) { q.Epsilon = 0 }, privacy.ErrInvalidEpsilon},
		{"epsilon negative", func(q *privacy.Query) { q.Epsilon = -1 }, privacy.ErrInvalidEpsilon},
		{"delta NaN", func(q *privacy.Query) { q.Delta = nan }, privacy.ErrInvalidDelta},
		{"delta negative", func(q *privacy.Query) { q.Delta = -0.1 }, privacy.ErrInvalidDelta},
		{"delta one", func(q *privacy.Query) { q.Delta = 1 }, privacy.ErrInvalidDelta},
		{"mean epsilon too small to split", func(q *privacy.Query) { q.Fn, q.Epsilon = privacy.Mean, 1e-6 }, privacy.ErrInvalidEpsilon},
		{"mean delta too small to split", func(q *privacy.Query) { q.Fn, q.Delta = privacy.Mean, 1e-18 }, privacy.ErrInvalidDelta},
		{"no contribution bound", func(q *privacy.Query) { q.MaxContributions = 0 }, privacy.ErrInvalidQuery},
		{"contribution bound too large", func(q *privacy.Query) { q.MaxContributions = privacy.MaxContributionsLimit + 1 }, privacy.ErrInvalidQuery},
		{"no bounds", func(q *privacy.Query) { q.Bounds = [2]float64{} }, privacy.ErrInvalidBounds},
		{"bounds inverted", func(q *privacy.Query) { q.Bounds = [2]float64{1, 0} }, privacy.ErrInvalidBounds},
		{"bound NaN", func(q *privacy.Query) { q.Bounds[1] = nan }, privacy.ErrInvalidBounds},
		{"bound infinite", func(q *privacy.Query) { q.Bounds[0] = -inf }, privacy.ErrInvalidBounds},
		{"bounds too large", func(q *privacy.Query) { q.Bounds[1] = 1e101 }, privacy.ErrInvalidBounds},
		{"bounds too small", func(q *privacy.Query) { q.Bounds = [2]float64{-1e-101, 1e-101} }, privacy.ErrInvalidBounds},
		{"one bucket edge", func(q *privacy.Query) { q.Fn, q.Buckets = privacy.Histogram, []float64{0} }, privacy.ErrInvalidQuery},
		{"bucket edges not increasing", func(q *privacy.Query) { q.Fn, q.Buckets = privacy.Histogram, []float64{0, 2, 2} }, privacy.ErrInvalidQuery},
		{"bucket edge NaN", func(q *privacy.Query) { q.Fn, q.Buckets = privacy.Histogram, []float64{0, nan} }, privacy.ErrInvalidQuery},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("base query refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := ok
			q.Buckets = slices.Clone(ok.Buckets)
			tt.edit(&q)
			_, err := privacy.Aggregate(q, feedOf(knownRows), privacy.DefaultOptions())
			if !errors.Is(err, tt.want) || !errors.Is(err, privacy.ErrInvalid) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			if _, err := q.Cost(); !errors.Is(err, tt.want) {
				t.Errorf("Cost error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseFn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]privacy.Fn{"count": privacy.Count, " Mean ": privacy.Mean, "histogram": privacy.Histogram, "sum": privacy.Sum} {
		if got, err := privacy.ParseFn(in); err != nil || got != want {
			t.Errorf("ParseFn(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := privacy.ParseFn("avg"); !errors.Is(err, privacy.ErrInvalidQuery) {
		t.Errorf("ParseFn(avg) error = %v, want ErrInvalidQuery", err)
	}
}

func TestNoisySumLiesOnGrid(t *testing.T) {
	t.Parallel()
	for i, delta := range []float64{0, 1e-9} {
		q := privacy.Query{Fn: privacy.Sum, Epsilon: 0.7, Delta: delta, Bounds: [2]float64{-3.3, 7.1}, MaxContributions: 3}
		for seed := range 20 {
			r, err := privacy.Aggregate(q, feedOf(knownRows), privacy.DefaultOptions().WithRandom(seeded(uint64(800+20*i+seed))))
			if err != nil {
				t.Fatal(err)
			}
			// Δ = 3·7.1 = 21.3: 2^k ≤ 21.3/2^20 gives k = -16.
			if r.GridStep != 0x1p-16 {
				t.Fatalf("grid step %v, want 2^-16", r.GridStep)
			}
			if steps := r.Value / r.GridStep; steps != math.Trunc(steps) {
				t.Errorf("sum %v is not on the grid", r.Value)
			}
		}
	}
}

func TestNoisyMeanStaysWithinBounds(t *testing.T) {
	t.Parallel()
	q := privacy.Query{Fn: privacy.Mean, Epsilon: 0.01, Bounds: [2]float64{2, 3}, MaxContributions: 1}
	atBound := 0
	for seed := range 50 {
		r, err := privacy.Aggregate(q, feedOf(knownRows), privacy.DefaultOptions().WithRandom(seeded(uint64(900+seed))))
		if err != nil {
			t.Fatal(err)
		}
		if r.Value < 2 || r.Value > 3 {
			t.Fatalf("mean %v outside the bounds [2, 3]", r.Value)
		}
		if r.Value == 2 || r.Value == 3 {
			atBound++
		}
	}
	if atBound == 0 {
		t.Error("with epsilon 0.01 some means should have been clamped to a bound")
	}
}

func TestResultStatesWhatWasSpent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		q         privacy.Query
		spent     privacy.Budget
		mechanism string
	}{
		{privacy.Query{Fn: privacy.Count, Epsilon: 0.3, MaxContributions: 1}, privacy.Budget{Epsilon: 0.3}, privacy.MechanismDiscreteLaplace},
		{privacy.Query{Fn: privacy.Mean, Epsilon: 0.3, Delta: 1e-9, Bounds: [2]float64{0, 1}, MaxContributions: 1}, privacy.Budget{Epsilon: 0.3, Delta: 1e-9}, privacy.MechanismDiscreteGaussian},
		{privacy.Query{Fn: privacy.Histogram, Epsilon: 2.0000004, MaxContributions: 4, Buckets: []float64{0, 1, 2}}, privacy.Budget{Epsilon: 2}, privacy.MechanismDiscreteLaplace},
	}
	for _, tt := range tests {
		cost, err := tt.q.Cost()
		if err != nil {
			t.Fatal(err)
		}
		r, err := privacy.Aggregate(tt.q, feedOf(knownRows), privacy.DefaultOptions().WithRandom(seeded(1)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Spent != tt.spent || cost != tt.spent || r.Mechanism != tt.mechanism {
			t.Errorf("%s: spent %+v, cost %+v, mechanism %s; want %+v and %s", tt.q.Fn, r.Spent, cost, r.Mechanism, tt.spent, tt.mechanism)
		}
	}
}

// TestCountNoiseScaleIsNOverEpsilon checks the sensitivity of counts and
// histograms through the reported noise: Laplace scale N/ε.
func TestCountNoiseScaleIsNOverEpsilon(t *testing.T) {
	t.Parallel()
	for _, fn := range []privacy.Fn{privacy.Count, privacy.Histogram} {
		q := privacy.Query{Fn: fn, Epsilon: 2, MaxContributions: 4, Buckets: knownEdges}
		r, err := privacy.Aggregate(q, feedOf(knownRows), privacy.DefaultOptions().WithRandom(seeded(2)))
		if err != nil {
			t.Fatal(err)
		}
		e := math.Exp(-0.5) // scale 4/2
		if want := math.Sqrt(2*e) / (1 - e); math.Abs(r.StdDev-want) > 1e-12 {
			t.Errorf("%s: noise std dev %v, want %v (scale N/ε = 2)", fn, r.StdDev, want)
		}
	}
}
