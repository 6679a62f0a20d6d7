package privacy

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"math/bits"
)

// Sampler draws exact samples from the distributions differential privacy
// needs, using only uniform random bytes and integer arithmetic: no
// floating point touches a sample (see the package documentation for why).
//
// Every method has a fast path in uint64 arithmetic, taken when the
// parameters and intermediate values fit, and a math/big path otherwise;
// the two consume the random bytes identically and return the same sample
// from the same bytes (the tests check this), so the fast path is an
// optimisation, never a change of distribution.
//
// A Sampler buffers bytes from its source and is not safe for concurrent
// use: give each goroutine (each query) its own.
type Sampler struct {
	src      io.Reader
	buf      [256]byte
	off, end int
}

// NewSampler returns a Sampler reading uniform bytes from src, or from
// crypto/rand.Reader when src is nil. Production code passes nil; a seeded
// deterministic stream (math/rand/v2's ChaCha8) is for tests and examples
// only, because whoever knows the seed can subtract the noise.
func NewSampler(src io.Reader) *Sampler {
	if src == nil {
		src = rand.Reader
	}
	return &Sampler{src: src}
}

func (s *Sampler) nextByte() (byte, error) {
	if s.off == s.end {
		if _, err := io.ReadFull(s.src, s.buf[:]); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrRandomness, err)
		}
		s.off, s.end = 0, len(s.buf)
	}
	b := s.buf[s.off]
	s.off++
	return b, nil
}

// uniform64 returns an integer uniform in [0, n) for n ≥ 1 by rejection:
// read the bytes that hold n-1 (big-endian), mask the top byte to its bit
// length, retry until below n. Fewer than two tries on average.
func (s *Sampler) uniform64(n uint64) (uint64, error) {
	if n <= 1 {
		return 0, nil
	}
	bitLen := bits.Len64(n - 1)
	nb := (bitLen + 7) / 8
	mask := byte(0xff >> (8*nb - bitLen))
	for {
		var u uint64
		for i := range nb {
			b, err := s.nextByte()
			if err != nil {
				return 0, err
			}
			if i == 0 {
				b &= mask
			}
			u = u<<8 | uint64(b)
		}
		if u < n {
			return u, nil
		}
	}
}

// uniformBig is uniform64 for any n ≥ 1, in math/big; for n < 2^64 it
// reads exactly the bytes uniform64 reads and returns the same integer.
func (s *Sampler) uniformBig(n *big.Int) (*big.Int, error) {
	if n.Cmp(bigOne) <= 0 {
		return new(big.Int), nil
	}
	bitLen := new(big.Int).Sub(n, bigOne).BitLen()
	buf := make([]byte, (bitLen+7)/8)
	mask := byte(0xff >> (8*len(buf) - bitLen))
	u := new(big.Int)
	for {
		for i := range buf {
			b, err := s.nextByte()
			if err != nil {
				return nil, err
			}
			buf[i] = b
		}
		buf[0] &= mask
		if u.SetBytes(buf).Cmp(n) < 0 {
			return u, nil
		}
	}
}

// bernoulli64 returns true with probability num/den (num ≤ den, den ≥ 1).
func (s *Sampler) bernoulli64(num, den uint64) (bool, error) {
	u, err := s.uniform64(den)
	return u < num, err
}

// bernoulliBig returns true with probability num/den.
func (s *Sampler) bernoulliBig(num, den *big.Int) (bool, error) {
	u, err := s.uniformBig(den)
	if err != nil {
		return false, err
	}
	return u.Cmp(num) < 0, nil
}

var (
	bigOne = big.NewInt(1)
	bigTwo = big.NewInt(2)
)
