package privacy

import (
	"fmt"
	"math/big"
	"math/bits"
)

// BernoulliExp returns true with probability exactly exp(-gamma), for a
// rational gamma ≥ 0 (Canonne, Kamath and Steinke 2020, Algorithm 1, in the
// form OpenDP implements): exp(-1) trials peel off the integer part of gamma,
// then a series of Bernoulli(gamma/k) trials, k = 1, 2, …, stops at the first
// failure, and the answer is whether that k is odd. Only uniform integers
// and comparisons are used.
func (s *Sampler) BernoulliExp(gamma *big.Rat) (bool, error) {
	if gamma == nil || gamma.Sign() < 0 {
		return false, fmt.Errorf("%w: BernoulliExp needs gamma ≥ 0", ErrInvalidQuery)
	}
	num, den := gamma.Num(), gamma.Denom()
	if num.IsUint64() && den.IsUint64() {
		n, d := num.Uint64(), den.Uint64()
		return s.bernoulliExpParts(n/d, n%d, d)
	}
	return s.bernoulliExpBig(num, den)
}

// bernoulliExpParts returns Bernoulli(exp(-(q + r/den))) for 0 ≤ r < den.
// It reads the random bytes bernoulliExpBig(q·den + r, den) would: that one
// subtracts den while the numerator exceeds den, so an exact integer keeps
// its last unit as den/den.
func (s *Sampler) bernoulliExpParts(q, r, den uint64) (bool, error) {
	if r == 0 && q > 0 {
		q, r = q-1, den
	}
	for ; q > 0; q-- {
		ok, err := s.bernoulliExp1(1, 1)
		if err != nil || !ok {
			return false, err
		}
	}
	return s.bernoulliExp1(r, den)
}

// bernoulliExp1 returns Bernoulli(exp(-num/den)) for num ≤ den. It moves to
// math/big, mid-run and without restarting, if den·k overflows.
func (s *Sampler) bernoulliExp1(num, den uint64) (bool, error) {
	for k := uint64(1); ; k++ {
		hi, dk := bits.Mul64(den, k)
		if hi != 0 {
			return s.bernoulliExp1Big(new(big.Int).SetUint64(num), new(big.Int).SetUint64(den), k)
		}
		ok, err := s.bernoulli64(num, dk)
		if err != nil {
			return false, err
		}
		if !ok {
			return k%2 == 1, nil
		}
	}
}

// bernoulliExpBig is the math/big path of BernoulliExp for gamma = num/den.
// It does not modify num or den.
func (s *Sampler) bernoulliExpBig(num, den *big.Int) (bool, error) {
	rest := new(big.Int).Set(num)
	for rest.Cmp(den) > 0 {
		ok, err := s.bernoulliExp1Big(bigOne, bigOne, 1)
		if err != nil || !ok {
			return false, err
		}
		rest.Sub(rest, den)
	}
	return s.bernoulliExp1Big(rest, den, 1)
}

// bernoulliExp1Big is bernoulliExp1 in math/big, starting at k.
func (s *Sampler) bernoulliExp1Big(num, den *big.Int, k uint64) (bool, error) {
	kk := new(big.Int).SetUint64(k)
	dk := new(big.Int)
	for {
		ok, err := s.bernoulliBig(num, dk.Mul(den, kk))
		if err != nil {
			return false, err
		}
		if !ok {
			return kk.Bit(0) == 1, nil
		}
		kk.Add(kk, bigOne)
	}
}
