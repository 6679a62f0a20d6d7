package privacy_test

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/featurevault/featurevault/privacy"
)

// BenchmarkSampler measures one sample, with crypto/rand as in production.
func BenchmarkSampler(b *testing.B) {
	big60 := new(big.Rat).SetFrac(new(big.Int).Lsh(big.NewInt(1), 60), big.NewInt(3))
	cases := []struct {
		name   string
		sample func(*privacy.Sampler) error
	}{
		{"BernoulliExp/gamma=1/3", func(s *privacy.Sampler) error { _, err := s.BernoulliExp(big.NewRat(1, 3)); return err }},
		{"BernoulliExp/gamma=5/2", func(s *privacy.Sampler) error { _, err := s.BernoulliExp(big.NewRat(5, 2)); return err }},
		{"DiscreteLaplace/scale=3", func(s *privacy.Sampler) error { _, err := s.DiscreteLaplace(big.NewRat(3, 1)); return err }},
		{"DiscreteLaplace/scale=2^21e6/7", func(s *privacy.Sampler) error {
			_, err := s.DiscreteLaplace(big.NewRat(2_097_152_000_000, 7))
			return err
		}},
		{"DiscreteLaplace/scale=2^60/3(math-big)", func(s *privacy.Sampler) error { _, err := s.DiscreteLaplaceBig(big60); return err }},
		{"DiscreteGaussian/sigma2=2", func(s *privacy.Sampler) error { _, err := s.DiscreteGaussian(big.NewRat(2, 1)); return err }},
		{"DiscreteGaussian/sigma2=1e6/3", func(s *privacy.Sampler) error { _, err := s.DiscreteGaussian(big.NewRat(1_000_000, 3)); return err }},
		{"DiscreteGaussian/sigma2=2^60/3(math-big)", func(s *privacy.Sampler) error { _, err := s.DiscreteGaussian(big60); return err }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := privacy.NewSampler(nil)
			for b.Loop() {
				if err := c.sample(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAggregateMean1M measures a mean over 1 M in-memory contributions
// (100 000 subjects × 10 rows, N = 5), the privacy part of the path only:
// the store adds the scan and decryption on top.
func BenchmarkAggregateMean1M(b *testing.B) {
	const subjects, perSubject = 100_000, 10
	ids := make([][]byte, subjects)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "%016x", i) // 16 bytes, like a blind index
	}
	vals := make([]float64, subjects*perSubject)
	for i := range vals {
		vals[i] = float64(i%5000) * 1.37
	}
	sorted := func(emit func([]byte, float64) error) error {
		for i, v := range vals {
			if err := emit(ids[i/perSubject], v); err != nil {
				return err
			}
		}
		return nil
	}
	interleaved := func(emit func([]byte, float64) error) error {
		for i, v := range vals {
			if err := emit(ids[i%subjects], v); err != nil {
				return err
			}
		}
		return nil
	}
	q := privacy.Query{Fn: privacy.Mean, Epsilon: 1, Bounds: [2]float64{0, 10000}, MaxContributions: 5}
	for _, c := range []struct {
		name string
		feed privacy.Feed
		opts privacy.Options
	}{
		{"sorted", sorted, privacy.DefaultOptions().WithSortedSubjects(true)},
		{"any-order", interleaved, privacy.DefaultOptions()},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := privacy.Aggregate(q, c.feed, c.opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(vals))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func BenchmarkCharge(b *testing.B) {
	l, err := privacy.NewLedger(memStoreB(b), privacy.PerPrincipal)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.Set("alice", "", privacy.MaxTotalEpsilon, 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := l.Charge("alice", "", 1e-6, 0); err != nil {
			b.Fatal(err)
		}
	}
}
