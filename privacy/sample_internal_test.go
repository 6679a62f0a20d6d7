package privacy

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestGaussExponentFastMatchesBig checks the uint64 acceptance exponent of
// the discrete Gaussian against math/big, including the overflow cases that
// random sampling essentially never reaches.
func TestGaussExponentFastMatchesBig(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	checked, overflowed := 0, 0
	for range 20000 {
		p, q := r.Uint64N(1<<uint(1+r.IntN(40)))+1, r.Uint64N(1<<uint(1+r.IntN(24)))+1
		g, ok := newGauss64(p, q)
		if !ok {
			continue
		}
		mag := r.Uint64N(1 << uint(1+r.IntN(63)))
		num, den := gaussExponentBig(new(big.Int).SetUint64(mag), new(big.Int).SetUint64(p), new(big.Int).SetUint64(q), new(big.Int).SetUint64(g.t))
		whole, rest, ok := g.exponent(mag, nil)
		if !ok {
			overflowed++
			// Only when |Y|·q·t or the squared numerator does not fit.
			if hi := new(big.Int).Mul(new(big.Int).SetUint64(mag), new(big.Int).SetUint64(g.qt)); hi.IsUint64() && new(big.Int).Quo(num, den).IsUint64() {
				t.Fatalf("p=%d q=%d |Y|=%d: overflow reported, but the exponent fits", p, q, mag)
			}
			continue
		}
		checked++
		if den.Uint64() != g.den {
			t.Fatalf("p=%d q=%d: denominator %d, want %v", p, q, g.den, den)
		}
		wq, wr := new(big.Int).QuoRem(num, den, new(big.Int))
		if !wq.IsUint64() || wq.Uint64() != whole || wr.Uint64() != rest {
			t.Fatalf("p=%d q=%d |Y|=%d: exponent %d + %d/%d, want %v + %v/%v", p, q, mag, whole, rest, g.den, wq, wr, den)
		}
	}
	if checked < 1000 || overflowed < 100 {
		t.Errorf("checked %d exponents and %d overflows; the generator misses a case", checked, overflowed)
	}
	if _, _, ok := (gauss64{p: 1, q: 1, t: 2, qt: 2, den: 8}).exponent(0, big.NewInt(1)); ok {
		t.Error("a magnitude beyond uint64 must take the math/big path")
	}
}

func TestIsqrt64(t *testing.T) {
	t.Parallel()
	for _, n := range []uint64{0, 1, 2, 3, 4, 15, 16, 17, 1<<32 - 1, 1 << 32, 1<<62 + 12345, math.MaxUint64} {
		s := isqrt64(n)
		lo, hi := new(big.Int).SetUint64(s), new(big.Int).SetUint64(s+1)
		nn := new(big.Int).SetUint64(n)
		if lo.Mul(lo, lo).Cmp(nn) > 0 || hi.Mul(hi, hi).Cmp(nn) <= 0 {
			t.Errorf("isqrt64(%d) = %d", n, s)
		}
	}
}
