package privacy

import (
	"fmt"
	"math/big"
	"math/bits"
)

// DiscreteGaussian returns a sample of the discrete Gaussian distribution
// on the integers with rational variance parameter sigma2 = σ² ≥ 0,
// P[X = x] ∝ exp(-x²/(2σ²)) (Canonne, Kamath and Steinke 2020, Algorithm 3,
// in the form OpenDP implements). sigma2 0 returns 0.
//
// With t = floor(σ) + 1: draw a candidate Y from the discrete Laplace with
// scale t and accept it with probability exp(-(|Y| - σ²/t)² / (2σ²)), an
// exact BernoulliExp of a rational. The expected number of candidates is
// a small constant, whatever σ. (σ itself, irrational in general, is never needed:
// floor(σ) = floor(sqrt(floor(σ²))), an integer square root.)
func (s *Sampler) DiscreteGaussian(sigma2 *big.Rat) (*big.Int, error) {
	if sigma2 == nil || sigma2.Sign() < 0 {
		return nil, fmt.Errorf("%w: DiscreteGaussian needs sigma2 ≥ 0", ErrInvalidQuery)
	}
	if sigma2.Sign() == 0 {
		return new(big.Int), nil
	}
	p, q := sigma2.Num(), sigma2.Denom()
	if p.IsUint64() && q.IsUint64() {
		if g, ok := newGauss64(p.Uint64(), q.Uint64()); ok {
			return s.discreteGaussian64(g)
		}
	}
	return s.discreteGaussianBig(p, q)
}

// gauss64 holds the constants of DiscreteGaussian for σ² = p/q when the
// denominator of the acceptance exponent, 2·p·q·t², fits in uint64.
type gauss64 struct {
	p, q, t, qt, den uint64
}

func newGauss64(p, q uint64) (gauss64, bool) {
	g := gauss64{p: p, q: q, t: isqrt64(p/q) + 1}
	qt, ok1 := mul64(q, g.t)
	pqt, ok2 := mul64(p, qt)
	pqtt, ok3 := mul64(pqt, g.t)
	den, ok4 := mul64(pqtt, 2)
	g.qt, g.den = qt, den
	return g, ok1 && ok2 && ok3 && ok4
}

// discreteGaussian64 is DiscreteGaussian in uint64 arithmetic; a candidate
// whose acceptance exponent overflows is decided in math/big, from the same
// random bytes.
func (s *Sampler) discreteGaussian64(g gauss64) (*big.Int, error) {
	for {
		positive, mag, bigMag, err := s.discreteLaplace64(g.t, 1)
		if err != nil {
			return nil, err
		}
		var accept bool
		if whole, rest, ok := g.exponent(mag, bigMag); ok {
			accept, err = s.bernoulliExpParts(whole, rest, g.den)
		} else {
			num, den := gaussExponentBig(signed(true, mag, bigMag), big.NewInt(0).SetUint64(g.p), new(big.Int).SetUint64(g.q), new(big.Int).SetUint64(g.t))
			accept, err = s.bernoulliExpBig(num, den)
		}
		if err != nil {
			return nil, err
		}
		if accept {
			return signed(positive, mag, bigMag), nil
		}
	}
}

// exponent returns the acceptance exponent (|Y| - σ²/t)²/(2σ²) =
// (|Y|·q·t - p)² / (2·p·q·t²) as whole + rest/den, or ok false on overflow.
func (g gauss64) exponent(mag uint64, bigMag *big.Int) (whole, rest uint64, ok bool) {
	if bigMag != nil {
		return 0, 0, false
	}
	hi, x := bits.Mul64(mag, g.qt)
	if hi != 0 {
		return 0, 0, false
	}
	if x >= g.p {
		x -= g.p
	} else {
		x = g.p - x
	}
	nh, nl := bits.Mul64(x, x)
	if nh >= g.den {
		return 0, 0, false
	}
	whole, rest = bits.Div64(nh, nl, g.den)
	return whole, rest, true
}

// gaussExponentBig returns (|y|·q·t - p)² and 2·p·q·t², unreduced.
func gaussExponentBig(absY, p, q, t *big.Int) (num, den *big.Int) {
	qt := new(big.Int).Mul(q, t)
	num = new(big.Int).Mul(absY, qt)
	num.Sub(num, p)
	num.Mul(num, num)
	den = new(big.Int).Mul(p, qt)
	den.Mul(den, t).Lsh(den, 1)
	return num, den
}

// discreteGaussianBig is the math/big path of DiscreteGaussian for σ² = p/q.
func (s *Sampler) discreteGaussianBig(p, q *big.Int) (*big.Int, error) {
	t := new(big.Int).Quo(p, q)
	t.Sqrt(t).Add(t, bigOne)
	for {
		y, err := s.discreteLaplaceBig(t, bigOne)
		if err != nil {
			return nil, err
		}
		num, den := gaussExponentBig(new(big.Int).Abs(y), p, q, t)
		accept, err := s.bernoulliExpBig(num, den)
		if err != nil {
			return nil, err
		}
		if accept {
			return y, nil
		}
	}
}

// isqrt64 returns floor(sqrt(n)) by integer Newton iteration from above.
func isqrt64(n uint64) uint64 {
	if n < 2 {
		return n
	}
	x := uint64(1) << ((bits.Len64(n) + 1) / 2)
	for {
		y := (x + n/x) / 2
		if y >= x {
			return x
		}
		x = y
	}
}

// mul64 returns a·b and whether it fits in uint64.
func mul64(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}
