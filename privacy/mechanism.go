package privacy

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// Mechanism names, as reported in Result.Mechanism.
const (
	MechanismDiscreteLaplace  = "discrete_laplace"
	MechanismDiscreteGaussian = "discrete_gaussian"
)

// GridBits sets the resolution of real-valued releases: the grid step 2^k
// is the largest power of two at most sensitivity/2^GridBits (see
// RealMechanism).
const GridBits = 20

// IntegerMechanism releases an integer-valued query: a count, a histogram
// bucket, or a real value already expressed in grid units.
//
// With delta = 0 it adds discrete Laplace noise of scale
// sensitivity/epsilon, which is epsilon-DP when adding or removing one
// subject changes the value by at most sensitivity (L1 sensitivity for a
// vector of releases sharing one mechanism).
//
// With delta > 0 it adds discrete Gaussian noise, which is ρ-zCDP with
// ρ = sensitivity²/(2σ²) (Canonne, Kamath and Steinke 2020; for a vector,
// sensitivity is the L2 sensitivity), and ρ-zCDP implies
// (ρ + 2·sqrt(ρ·ln(1/δ)), δ)-DP (Bun and Steinke 2016, Proposition 1.3). σ²
// is the smallest value making that epsilon at most the one asked for:
//
//	σ² = sensitivity² · (sqrt(ln(1/δ) + ε) + sqrt(ln(1/δ)))² / (2ε²)
//
// computed in float64, widened by a relative 2^-40 (far above the rounding
// error of those few operations) and rounded up to a multiple of 2^-10.
// Tighter conversions (CKS20 Corollary 13, or the exact privacy profile of
// the discrete Gaussian) would allow less noise; this one is simple and
// conservative.
//
// Epsilon and delta are first rounded down to units of 1e-6 and 1e-18 (see
// Budget), and the mechanism is calibrated to exactly the rounded values,
// which Spent reports and a ledger must charge.
//
// A mechanism is immutable and safe for concurrent use, each goroutine with
// its own Sampler.
type IntegerMechanism struct {
	gaussian bool
	param    *big.Rat // Laplace scale, or Gaussian σ²
	spent    units
}

// NewIntegerMechanism returns the mechanism for an integer query of the
// given sensitivity (≥ 1): discrete Laplace when delta is 0, discrete
// Gaussian otherwise. It refuses NaN, infinite, zero or negative epsilon
// and delta outside [0, 1).
func NewIntegerMechanism(epsilon, delta float64, sensitivity uint64) (*IntegerMechanism, error) {
	u, err := queryUnits(epsilon, delta)
	if err != nil {
		return nil, err
	}
	if sensitivity == 0 {
		return nil, fmt.Errorf("%w: sensitivity is 0; pass how much one subject can change the value (≥ 1)", ErrInvalidQuery)
	}
	return newIntegerMechanism(u, sensitivity), nil
}

func newIntegerMechanism(u units, sensitivity uint64) *IntegerMechanism {
	sens := new(big.Int).SetUint64(sensitivity)
	if u.delta == 0 {
		// scale = sensitivity/ε = sensitivity·1e6/(ε in units), exactly.
		num := new(big.Int).Mul(sens, big.NewInt(epsilonUnitsPerOne))
		return &IntegerMechanism{param: new(big.Rat).SetFrac(num, new(big.Int).SetUint64(u.eps)), spent: u}
	}
	eps := float64(u.eps) / epsilonUnitsPerOne
	l := -math.Log(float64(u.delta) / deltaUnitsPerOne)
	c := math.Sqrt(l+eps) + math.Sqrt(l)
	c = c * c / (2 * eps * eps) * (1 + 0x1p-40)
	// σ² = ceil(sensitivity² · c · 2^10) / 2^10.
	x := new(big.Rat).SetFloat64(c) // exact: c is finite for ε ≥ 1e-6, δ ≥ 1e-18
	x.Mul(x, new(big.Rat).SetInt(new(big.Int).Mul(sens, sens)))
	x.Mul(x, big.NewRat(1024, 1))
	ceil := new(big.Int).Add(x.Num(), x.Denom())
	ceil.Sub(ceil, bigOne).Quo(ceil, x.Denom())
	return &IntegerMechanism{gaussian: true, param: new(big.Rat).SetFrac(ceil, big.NewInt(1024)), spent: u}
}

// Name returns MechanismDiscreteLaplace or MechanismDiscreteGaussian.
func (m *IntegerMechanism) Name() string {
	if m.gaussian {
		return MechanismDiscreteGaussian
	}
	return MechanismDiscreteLaplace
}

// Spent returns the (ε, δ) the mechanism is calibrated to: what a ledger
// must charge for one release (one value, or one vector of values sharing
// the sensitivity).
func (m *IntegerMechanism) Spent() Budget { return m.spent.budget() }

// Param returns a copy of the noise parameter: the Laplace scale t, or the
// Gaussian σ².
func (m *IntegerMechanism) Param() *big.Rat { return new(big.Rat).Set(m.param) }

// StdDev returns the standard deviation of the noise, approximately (for
// confidence intervals; the discrete Gaussian's is slightly below σ).
func (m *IntegerMechanism) StdDev() float64 {
	p, _ := m.param.Float64()
	if m.gaussian {
		return math.Sqrt(p)
	}
	// Var = 2·e^(-1/t) / (1 - e^(-1/t))².
	return math.Sqrt(2*math.Exp(-1/p)) / -math.Expm1(-1/p)
}

// Release returns v plus fresh noise from s (crypto/rand when s is nil).
func (m *IntegerMechanism) Release(s *Sampler, v int64) (int64, error) {
	if s == nil {
		s = NewSampler(nil)
	}
	x := big.NewInt(v)
	if err := m.addNoise(s, x); err != nil {
		return 0, err
	}
	if !x.IsInt64() {
		return 0, fmt.Errorf("%w: the noisy value does not fit in int64", ErrOverflow)
	}
	return x.Int64(), nil
}

// addNoise adds noise to x in place. A nil s adds none: only Aggregate
// passes nil, and only when a test asked for no noise.
func (m *IntegerMechanism) addNoise(s *Sampler, x *big.Int) error {
	if s == nil {
		return nil
	}
	var z *big.Int
	var err error
	if m.gaussian {
		z, err = s.DiscreteGaussian(m.param)
	} else {
		z, err = s.DiscreteLaplace(m.param)
	}
	if err != nil {
		return err
	}
	x.Add(x, z)
	return nil
}

// RealMechanism releases a real-valued query on a grid of step 2^k, so that
// the noise is integer noise from an exact sampler and never floating-point
// noise (see the package documentation):
//
//  1. k is chosen from the sensitivity alone (data-independent): 2^k is the
//     largest power of two at most sensitivity/2^GridBits, so the grid is
//     about a million times finer than the sensitivity.
//  2. The true value is rounded to the nearest multiple of 2^k (ties to
//     even) and divided by 2^k: an integer.
//  3. Rounding can move two neighbouring values one more step apart, so the
//     integer query's sensitivity is ceil(sensitivity/2^k) + 1 grid steps
//     (at most a 2^-19 relative widening).
//  4. An IntegerMechanism with that sensitivity adds noise, and the result
//     is scaled back by 2^k: every output is an exact multiple of 2^k.
//
// Like IntegerMechanism, it is safe for concurrent use with one Sampler per
// goroutine.
type RealMechanism struct {
	k     int
	inner *IntegerMechanism
}

// NewRealMechanism returns the mechanism for a real-valued query whose
// value changes by at most sensitivity (finite, > 0) when one subject's
// rows are added or removed. Epsilon and delta are as for
// NewIntegerMechanism.
func NewRealMechanism(epsilon, delta, sensitivity float64) (*RealMechanism, error) {
	u, err := queryUnits(epsilon, delta)
	if err != nil {
		return nil, err
	}
	if !(sensitivity > 0) || math.IsInf(sensitivity, 0) {
		return nil, fmt.Errorf("%w: sensitivity must be finite and > 0", ErrInvalidQuery)
	}
	frac, exp := math.Frexp(sensitivity)
	return newRealMechanism(u, uint64(math.Ldexp(frac, 53)), exp-53), nil
}

// newRealMechanism calibrates for sensitivity mant·2^exp (mant > 0).
func newRealMechanism(u units, mant uint64, exp int) *RealMechanism {
	bl := bits.Len64(mant)
	k := bl - 1 + exp - GridBits // 2^k ≤ sensitivity/2^GridBits < 2^(k+1)
	var g uint64                 // ceil(sensitivity/2^k), in [2^GridBits, 2^(GridBits+1)]
	if shift := exp - k; shift >= 0 {
		g = mant << shift
	} else {
		g = mant >> -shift
		if mant&(1<<-shift-1) != 0 {
			g++
		}
	}
	return &RealMechanism{k: k, inner: newIntegerMechanism(u, g+1)}
}

// OnGrid returns the integer mechanism applied in grid units: its
// sensitivity is ceil(sensitivity/2^k) + 1.
func (m *RealMechanism) OnGrid() *IntegerMechanism { return m.inner }

// GridExponent returns k: every output is a multiple of 2^k.
func (m *RealMechanism) GridExponent() int { return m.k }

// GridStep returns 2^k.
func (m *RealMechanism) GridStep() float64 { return math.Ldexp(1, m.k) }

// Name returns the name of the integer mechanism used on the grid.
func (m *RealMechanism) Name() string { return m.inner.Name() }

// Spent returns the (ε, δ) the mechanism is calibrated to.
func (m *RealMechanism) Spent() Budget { return m.inner.Spent() }

// StdDev returns the approximate standard deviation of the noise, in the
// units of the value.
func (m *RealMechanism) StdDev() float64 { return math.Ldexp(m.inner.StdDev(), m.k) }

// Release returns v (finite) rounded to the grid plus fresh noise from s
// (crypto/rand when s is nil); the result is a multiple of GridStep.
func (m *RealMechanism) Release(s *Sampler, v float64) (float64, error) {
	if s == nil {
		s = NewSampler(nil)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: the value to release is not finite", ErrInvalidQuery)
	}
	y := math.Ldexp(v, -m.k)
	if math.IsInf(y, 0) {
		return 0, fmt.Errorf("%w: the value is too large for the grid", ErrOverflow)
	}
	x, _ := new(big.Float).SetFloat64(math.RoundToEven(y)).Int(nil)
	return m.release(s, x)
}

// releaseFixed releases the exact value x·2^j, first rounded to the grid.
func (m *RealMechanism) releaseFixed(s *Sampler, x *big.Int, j int) (float64, error) {
	x = new(big.Int).Set(x)
	if shift := m.k - j; shift <= 0 {
		x.Lsh(x, uint(-shift))
	} else {
		roundShift(x, uint(shift))
	}
	return m.release(s, x)
}

// release adds noise to the grid integer x and scales back.
func (m *RealMechanism) release(s *Sampler, x *big.Int) (float64, error) {
	if err := m.inner.addNoise(s, x); err != nil {
		return 0, err
	}
	f := new(big.Float).SetInt(x)
	v, _ := f.SetMantExp(f, m.k).Float64()
	if math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: the noisy value does not fit in float64", ErrOverflow)
	}
	return v, nil
}

// roundShift sets x to x/2^n rounded to the nearest integer, ties to even.
func roundShift(x *big.Int, n uint) {
	rem := new(big.Int).Lsh(bigOne, n)
	rem.Sub(rem, bigOne).And(rem, x) // x mod 2^n, in [0, 2^n)
	x.Rsh(x, n)                      // floor
	half := new(big.Int).Lsh(bigOne, n-1)
	if c := rem.Cmp(half); c > 0 || (c == 0 && x.Bit(0) == 1) {
		x.Add(x, bigOne)
	}
}
