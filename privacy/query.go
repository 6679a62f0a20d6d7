package privacy

import (
	"fmt"
	"math"
	"strings"
)

// Fn is an aggregate function.
type Fn string

// The aggregate functions.
const (
	// Count counts rows (after contribution bounding; NaN values dropped).
	Count Fn = "count"
	// Sum adds values clamped to Bounds.
	Sum Fn = "sum"
	// Mean divides a noisy sum by a noisy count (at least 1), spending half
	// of epsilon (and of delta) on each, and clamps the result to Bounds.
	// The sum is of values minus the bounds' midpoint, which halves its
	// sensitivity, as the Google DP library's BoundedMean does.
	Mean Fn = "mean"
	// Histogram counts rows per bucket of Buckets.
	Histogram Fn = "histogram"
)

// ParseFn returns the Fn named s (count, sum, mean or histogram).
func ParseFn(s string) (Fn, error) {
	switch f := Fn(strings.ToLower(strings.TrimSpace(s))); f {
	case Count, Sum, Mean, Histogram:
		return f, nil
	}
	return "", fmt.Errorf("%w: unknown aggregate function %q; use count, sum, mean or histogram", ErrInvalidQuery, s)
}

// Limits on a Query.
const (
	// MaxContributionsLimit is the largest MaxContributions.
	MaxContributionsLimit = 1 << 20
	// MaxBuckets is the largest number of histogram buckets.
	MaxBuckets = 1 << 16
	// MaxBound is the largest magnitude of a bound; the larger bound must
	// also be at least MinBound in magnitude.
	MaxBound = 1e100
	// MinBound: see MaxBound.
	MinBound = 1e-100
)

// fineBits sets the fixed-point resolution values are summed in: each
// clamped value is rounded to a multiple of 2^j, with 2^j the largest power
// of two at most max(|lo|, |hi|)/2^fineBits, and summed exactly as an
// integer. Summing float64 values directly would make the sum's sensitivity
// depend on rounding (Casacuberta et al. 2022).
const fineBits = 40

// Query is one differentially private aggregate over a column.
//
// The privacy unit is the subject: the guarantee covers adding or removing
// all of one subject's rows. Each subject contributes at most
// MaxContributions rows, NaN values are dropped (before bounding) and other
// values (±Inf too) are clamped to Bounds.
type Query struct {
	// Fn is the aggregate function.
	Fn Fn
	// Epsilon > 0 is the privacy-loss budget of the query; it is rounded
	// down to a multiple of 1e-6 (see Budget).
	Epsilon float64
	// Delta in [0, 1): 0 uses discrete Laplace noise (pure epsilon-DP),
	// > 0 discrete Gaussian noise ((epsilon, delta)-DP). Rounded down to a
	// multiple of 1e-18.
	Delta float64
	// Bounds [lo, hi], lo < hi, finite: required by Sum and Mean, ignored
	// by Count and Histogram (whose sensitivity does not depend on values).
	Bounds [2]float64
	// MaxContributions ≥ 1 is N, the most rows one subject contributes;
	// further rows of the subject are ignored (see Options).
	MaxContributions int
	// Buckets are the histogram's bucket edges, strictly increasing:
	// bucket i is [Buckets[i], Buckets[i+1]), the last one closed. A value
	// below the first edge counts in the first bucket, one above the last
	// edge in the last bucket.
	Buckets []float64
}

// Validate reports whether q can run, with a message saying what to fix.
func (q Query) Validate() error {
	_, err := q.plan()
	return err
}

// Cost returns what q spends when it runs: epsilon and delta rounded down
// to units of 1e-6 and 1e-18, exactly what its mechanisms are calibrated to
// and Result.Spent reports. Charge a ledger with it before running q.
func (q Query) Cost() (Budget, error) {
	p, err := q.plan()
	if err != nil {
		return Budget{}, err
	}
	return p.u.budget(), nil
}

// plan is a validated query with its fixed-point constants.
type plan struct {
	fn     Fn
	u      units
	n      uint64
	lo, hi float64
	edges  []float64
	// Fixed point (sum, mean): values are integers in units of 2^j.
	j      int
	toFine float64 // 2^-j
	rlo    int64   // lo and hi in units of 2^j
	rhi    int64
	mid    int64 // a mean's centre, in units of 2^j
}

func (q Query) plan() (*plan, error) {
	p := &plan{fn: q.Fn}
	switch q.Fn {
	case Count, Sum, Mean, Histogram:
	case "":
		return nil, fmt.Errorf("%w: no aggregate function; set Fn to count, sum, mean or histogram", ErrInvalidQuery)
	default:
		return nil, fmt.Errorf("%w: unknown aggregate function %q; use count, sum, mean or histogram", ErrInvalidQuery, string(q.Fn))
	}
	var err error
	if p.u, err = queryUnits(q.Epsilon, q.Delta); err != nil {
		return nil, err
	}
	if q.Fn == Mean {
		if _, _, err := p.u.split(); err != nil {
			return nil, err
		}
	}
	if q.MaxContributions < 1 || q.MaxContributions > MaxContributionsLimit {
		return nil, fmt.Errorf("%w: max contributions per subject is %d; set it between 1 and %d", ErrInvalidQuery, q.MaxContributions, MaxContributionsLimit)
	}
	p.n = uint64(q.MaxContributions)
	switch q.Fn {
	case Sum, Mean:
		if err := p.setBounds(q.Bounds); err != nil {
			return nil, err
		}
	case Histogram:
		if err := checkBuckets(q.Buckets); err != nil {
			return nil, err
		}
		p.edges = q.Buckets
	}
	return p, nil
}

func (p *plan) setBounds(b [2]float64) error {
	lo, hi := b[0], b[1]
	switch {
	case math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0):
		return fmt.Errorf("%w: bounds must be finite numbers; declare them on the field or pass them in the query", ErrInvalidBounds)
	case lo >= hi:
		return fmt.Errorf("%w: lower bound %s is not below upper bound %s; pass [lo, hi] with lo < hi", ErrInvalidBounds, formatAmount(lo), formatAmount(hi))
	}
	m := max(math.Abs(lo), math.Abs(hi))
	if m > MaxBound || m < MinBound {
		return fmt.Errorf("%w: the larger bound's magnitude %s is outside [%s, %s]; rescale the field", ErrInvalidBounds, formatAmount(m), formatAmount(MinBound), formatAmount(MaxBound))
	}
	p.lo, p.hi = lo, hi
	p.j = math.Ilogb(m) - fineBits
	p.toFine = math.Ldexp(1, -p.j)
	p.rlo, p.rhi = p.fine(lo), p.fine(hi)
	p.mid = (p.rlo + p.rhi) >> 1
	return nil
}

// fine returns v clamped to the bounds, in units of 2^j (|result| < 2^41).
// Multiplying by a power of two is exact in the range used here, so the
// only rounding is the final one, to nearest, ties to even.
func (p *plan) fine(v float64) int64 {
	v = min(max(v, p.lo), p.hi)
	return int64(math.RoundToEven(v * p.toFine))
}

func checkBuckets(edges []float64) error {
	if len(edges) < 2 || len(edges) > MaxBuckets+1 {
		return fmt.Errorf("%w: a histogram needs between 2 and %d bucket edges, got %d", ErrInvalidQuery, MaxBuckets+1, len(edges))
	}
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return fmt.Errorf("%w: histogram bucket edge %d is not finite", ErrInvalidQuery, i)
		}
		if i > 0 && e <= edges[i-1] {
			return fmt.Errorf("%w: histogram bucket edges must be strictly increasing; edge %d (%s) is not above edge %d (%s)", ErrInvalidQuery, i, formatAmount(e), i-1, formatAmount(edges[i-1]))
		}
	}
	return nil
}
