package privacy

import (
	"fmt"
	"math/big"
	"math/bits"
)

// DiscreteLaplace returns a sample of the discrete Laplace distribution on
// the integers with rational scale t ≥ 0, P[X = x] ∝ exp(-|x|/t)
// (Canonne, Kamath and Steinke 2020, Algorithm 2, in the form OpenDP
// implements). Scale 0 returns 0.
//
// With t = a/b in lowest terms: draw U uniform in [0, a) and keep it with
// probability exp(-U/a); draw V, the number of exp(-1) successes before a
// failure; the magnitude is floor((V·a + U)/b), a geometric variable with
// ratio exp(-b/a) = exp(-1/t). A fair sign is drawn first, and "negative
// zero" is rejected so that 0 is not counted twice. The expected number of
// loops does not grow with t.
func (s *Sampler) DiscreteLaplace(scale *big.Rat) (*big.Int, error) {
	if scale == nil || scale.Sign() < 0 {
		return nil, fmt.Errorf("%w: DiscreteLaplace needs a scale ≥ 0", ErrInvalidQuery)
	}
	if scale.Sign() == 0 {
		return new(big.Int), nil
	}
	a, b := scale.Num(), scale.Denom()
	if a.IsUint64() && b.IsUint64() {
		positive, mag, bigMag, err := s.discreteLaplace64(a.Uint64(), b.Uint64())
		if err != nil {
			return nil, err
		}
		return signed(positive, mag, bigMag), nil
	}
	return s.discreteLaplaceBig(a, b)
}

// discreteLaplace64 samples with scale a/b in uint64 arithmetic. The
// magnitude is mag, or bigMag when it does not fit in uint64.
func (s *Sampler) discreteLaplace64(a, b uint64) (positive bool, mag uint64, bigMag *big.Int, err error) {
	for {
		if positive, err = s.bernoulli64(1, 2); err != nil {
			return false, 0, nil, err
		}
		if mag, bigMag, err = s.geometric64(a, b); err != nil {
			return false, 0, nil, err
		}
		if positive || mag != 0 || bigMag != nil {
			return positive, mag, bigMag, nil
		}
	}
}

// geometric64 returns floor((V·a + U)/b) as described at DiscreteLaplace:
// a geometric variable, P[k] ∝ exp(-k·b/a).
func (s *Sampler) geometric64(a, b uint64) (uint64, *big.Int, error) {
	var u uint64
	for {
		var err error
		if u, err = s.uniform64(a); err != nil {
			return 0, nil, err
		}
		ok, err := s.bernoulliExp1(u, a)
		if err != nil {
			return 0, nil, err
		}
		if ok {
			break
		}
	}
	v, err := s.geometricExp1()
	if err != nil {
		return 0, nil, err
	}
	hi, lo := bits.Mul64(v, a)
	lo, carry := bits.Add64(lo, u, 0)
	hi += carry
	if hi < b {
		q, _ := bits.Div64(hi, lo, b)
		return q, nil, nil
	}
	x := new(big.Int).Mul(new(big.Int).SetUint64(v), new(big.Int).SetUint64(a))
	x.Add(x, new(big.Int).SetUint64(u))
	return 0, x.Quo(x, new(big.Int).SetUint64(b)), nil
}

// geometricExp1 counts Bernoulli(exp(-1)) successes before the first
// failure.
func (s *Sampler) geometricExp1() (uint64, error) {
	var k uint64
	for {
		ok, err := s.bernoulliExp1(1, 1)
		if err != nil || !ok {
			return k, err
		}
		k++
	}
}

// discreteLaplaceBig is the math/big path of DiscreteLaplace for scale a/b.
func (s *Sampler) discreteLaplaceBig(a, b *big.Int) (*big.Int, error) {
	for {
		positive, err := s.bernoulliBig(bigOne, bigTwo)
		if err != nil {
			return nil, err
		}
		mag, err := s.geometricBig(a, b)
		if err != nil {
			return nil, err
		}
		if positive || mag.Sign() != 0 {
			if !positive {
				mag.Neg(mag)
			}
			return mag, nil
		}
	}
}

func (s *Sampler) geometricBig(a, b *big.Int) (*big.Int, error) {
	var u *big.Int
	for {
		var err error
		if u, err = s.uniformBig(a); err != nil {
			return nil, err
		}
		ok, err := s.bernoulliExp1Big(u, a, 1)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
	}
	v := new(big.Int)
	for {
		ok, err := s.bernoulliExp1Big(bigOne, bigOne, 1)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		v.Add(v, bigOne)
	}
	v.Mul(v, a).Add(v, u)
	return v.Quo(v, b), nil
}

// signed returns ±mag, or ±bigMag when it is set.
func signed(positive bool, mag uint64, bigMag *big.Int) *big.Int {
	x := bigMag
	if x == nil {
		x = new(big.Int).SetUint64(mag)
	}
	if !positive {
		x.Neg(x)
	}
	return x
}
