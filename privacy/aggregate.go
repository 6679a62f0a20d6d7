package privacy

import (
	"fmt"
	"io"
	"math"
	"math/big"
	"math/bits"
	"slices"
)

// Feed streams the rows of one column: it calls emit once per row with the
// row's subject and value, and returns the first error emit returns (or its
// own). The subject is a pseudonymous identifier of the privacy unit (the
// store's blind index), never shown to anyone; emit does not retain the
// slice. emit is not safe for concurrent use: call it from one goroutine at
// a time (decrypt in parallel, emit in order). Rows whose value is absent
// (NULL) should not be emitted; NaN values are dropped by Aggregate.
//
// The order of one subject's rows must not depend on other subjects' data
// (key order does not); it decides which rows are kept when a subject has
// more than MaxContributions.
type Feed func(emit func(subject []byte, value float64) error) error

// Options configures Aggregate. Start from DefaultOptions.
type Options struct {
	random  io.Reader
	sorted  bool
	noNoise bool
}

// DefaultOptions returns options for noise from crypto/rand and a feed in
// any order.
func DefaultOptions() Options { return Options{} }

// WithRandom draws noise from r instead of crypto/rand. Only tests and
// examples pass a seeded stream: knowing the stream reveals the noise.
func (o Options) WithRandom(r io.Reader) Options { o.random = r; return o }

// WithSortedSubjects promises that the feed emits subjects in ascending
// byte order with all rows of a subject together, as a scan of the store's
// key space does. Contribution bounding then uses O(1) memory instead of a
// map of every subject; a broken promise fails the query with
// ErrUnsortedFeed.
func (o Options) WithSortedSubjects(b bool) Options { o.sorted = b; return o }

// Result is a released aggregate.
type Result struct {
	// Fn is the aggregate function.
	Fn Fn
	// Value is the noisy count, sum or mean (0 for a histogram). A noisy
	// count may be negative; a sum lies on a grid of step GridStep; a mean
	// is clamped to the bounds.
	Value float64
	// Counts are a histogram's noisy counts, one per bucket.
	Counts []int64
	// Spent is the privacy loss of this release, exactly as calibrated.
	Spent Budget
	// Mechanism is MechanismDiscreteLaplace or MechanismDiscreteGaussian.
	Mechanism string
	// GridStep is the 2^k grid of a sum, or of a mean's noisy sum; 0 for a
	// count or histogram.
	GridStep float64
	// StdDev is the approximate standard deviation of the noise added to
	// Value (to each of Counts; for a mean, of its noisy sum).
	StdDev float64
}

// Aggregate computes q over the rows feed emits and releases it with
// differential privacy. It does not charge a budget: charge q.Cost() to a
// Ledger first, and refund the charge if Aggregate fails.
//
// NaN values are dropped, then each subject's first MaxContributions (N)
// rows are kept, then values are clamped to the bounds. The sensitivities
// the noise is calibrated to, for adding or removing one subject:
//
//	count      N
//	sum        N · max(|lo|, |hi|)
//	mean       sum of (value - mid), mid = (lo+hi)/2: N · (hi-lo)/2;  count: N
//	histogram  N, in L1 (Laplace) and in L2 (Gaussian): the worst case puts
//	           all N rows in one bucket; spreading them only lowers L2
//
// Sums are computed exactly in fixed point (values rounded to multiples of
// 2^j, about max(|lo|, |hi|)/2^40, with the rounded bounds used in the
// sensitivity) and released on a 2^k grid (see RealMechanism).
//
// Errors: a parameter error (ErrInvalid), an error returned by the feed
// (unchanged), ErrUnsortedFeed, ErrRandomness or ErrOverflow. On error
// nothing may be released.
func Aggregate(q Query, feed Feed, o Options) (Result, error) {
	p, err := q.plan()
	if err != nil {
		return Result{}, err
	}
	var s *Sampler // nil only when a test asked for no noise
	if !o.noNoise {
		s = NewSampler(o.random)
	}
	b := newBounder(p.n, o.sorted)
	a := accumulator{p: p}
	if p.fn == Histogram {
		a.counts = make([]int64, len(p.edges)-1)
	}
	var emitErr error // sticky, in case the feed drops emit's error
	err = feed(func(subject []byte, v float64) error {
		if emitErr != nil {
			return emitErr
		}
		if v != v { // NaN
			return nil
		}
		ok, err := b.admit(subject)
		if ok {
			a.add(v)
		}
		emitErr = err
		return err
	})
	if err == nil {
		err = emitErr
	}
	if err != nil {
		return Result{}, err
	}
	return p.release(s, &a)
}

// accumulator holds the exact true aggregate.
type accumulator struct {
	p      *plan
	rows   int64
	sum    int128 // Sum: Σ fine(v); Mean: Σ (fine(v) - mid); units of 2^j
	counts []int64
}

func (a *accumulator) add(v float64) {
	a.rows++
	switch a.p.fn {
	case Sum:
		a.sum.add(a.p.fine(v))
	case Mean:
		a.sum.add(a.p.fine(v) - a.p.mid)
	case Histogram:
		a.counts[a.p.bucket(v)]++
	}
}

// bucket returns the index of v's bucket, edge buckets catching the rest.
func (p *plan) bucket(v float64) int {
	i, found := slices.BinarySearch(p.edges, v)
	if !found {
		i--
	}
	return min(max(i, 0), len(p.edges)-2)
}

// release adds noise calibrated to the sensitivities listed at Aggregate.
func (p *plan) release(s *Sampler, a *accumulator) (Result, error) {
	r := Result{Fn: p.fn, Spent: p.u.budget()}
	switch p.fn {
	case Count:
		m := newIntegerMechanism(p.u, p.n)
		x := big.NewInt(a.rows)
		if err := m.addNoise(s, x); err != nil {
			return Result{}, err
		}
		r.Value, _ = new(big.Float).SetInt(x).Float64()
		r.Mechanism, r.StdDev = m.Name(), m.StdDev()
	case Histogram:
		m := newIntegerMechanism(p.u, p.n)
		r.Counts = make([]int64, len(a.counts))
		for i, c := range a.counts {
			x := big.NewInt(c)
			if err := m.addNoise(s, x); err != nil {
				return Result{}, err
			}
			if !x.IsInt64() {
				return Result{}, fmt.Errorf("%w: a noisy count does not fit in int64", ErrOverflow)
			}
			r.Counts[i] = x.Int64()
		}
		r.Mechanism, r.StdDev = m.Name(), m.StdDev()
	case Sum:
		m := newRealMechanism(p.u, p.n*uint64(max(abs64(p.rlo), abs64(p.rhi))), p.j) // #nosec G115 -- abs64 of bounds checked by plan, non-negative
		v, err := m.releaseFixed(s, a.sum.big(), p.j)
		if err != nil {
			return Result{}, err
		}
		r.Value, r.Mechanism, r.GridStep, r.StdDev = v, m.Name(), m.GridStep(), m.StdDev()
	case Mean:
		uSum, uCount, _ := p.u.split() // checked by plan
		spread := max(p.rhi-p.mid, p.mid-p.rlo, 1)
		sm := newRealMechanism(uSum, p.n*uint64(spread), p.j)
		cm := newIntegerMechanism(uCount, p.n)
		sum, err := sm.releaseFixed(s, a.sum.big(), p.j)
		if err != nil {
			return Result{}, err
		}
		n := big.NewInt(a.rows)
		if err := cm.addNoise(s, n); err != nil {
			return Result{}, err
		}
		count, _ := new(big.Float).SetInt(n).Float64()
		mean := math.Ldexp(float64(p.mid), p.j) + sum/max(count, 1)
		r.Value = min(max(mean, p.lo), p.hi)
		r.Mechanism, r.GridStep, r.StdDev = sm.Name(), sm.GridStep(), sm.StdDev()
	}
	return r, nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// int128 is a two's-complement 128-bit accumulator: enough for 2^86 values
// below 2^41 in magnitude, so a sum is exact however many rows there are.
type int128 struct {
	hi int64
	lo uint64
}

func (a *int128) add(x int64) {
	lo, carry := bits.Add64(a.lo, uint64(x), 0) // #nosec G115 -- two's-complement addition into the low word
	a.lo = lo
	a.hi += x>>63 + int64(carry) // #nosec G115 -- carry is 0 or 1
}

func (a int128) big() *big.Int {
	x := big.NewInt(a.hi)
	x.Lsh(x, 64)
	return x.Add(x, new(big.Int).SetUint64(a.lo))
}
