package privacy_test

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"
	"testing/iotest"

	"github.com/featurevault/featurevault/privacy"
)

func TestBernoulliExpMatchesExpMinusGamma(t *testing.T) {
	t.Parallel()
	for i, gamma := range []*big.Rat{big.NewRat(1, 3), big.NewRat(1, 1), big.NewRat(5, 2), big.NewRat(7, 1)} {
		t.Run(gamma.RatString(), func(t *testing.T) {
			t.Parallel()
			s := privacy.NewSampler(seeded(100 + uint64(i)))
			hits := 0
			for range statSamples {
				ok, err := s.BernoulliExp(gamma)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					hits++
				}
			}
			g, _ := gamma.Float64()
			p, n := math.Exp(-g), float64(statSamples)
			got, tol := float64(hits)/n, zTwoSided*math.Sqrt(p*(1-p)/n)
			if math.Abs(got-p) > tol {
				t.Errorf("frequency = %.5f, want exp(-%s) = %.5f ± %.5f", got, gamma.RatString(), p, tol)
			}
		})
	}
}

func TestBernoulliExpOfZeroIsAlwaysTrue(t *testing.T) {
	t.Parallel()
	s := privacy.NewSampler(seeded(1))
	for range 1000 {
		if ok, err := s.BernoulliExp(new(big.Rat)); err != nil || !ok {
			t.Fatalf("BernoulliExp(0) = %v, %v; want true", ok, err)
		}
	}
}

// discreteLaplacePMF is P[x] ∝ exp(-|x|/t).
func discreteLaplacePMF(t float64) pmf {
	return newPMF(int64(40*t)+10, func(x int64) float64 { return math.Exp(-math.Abs(float64(x)) / t) })
}

// discreteGaussianPMF is P[x] ∝ exp(-x²/(2σ²)).
func discreteGaussianPMF(sigma2 float64) pmf {
	return newPMF(int64(14*math.Sqrt(sigma2))+10, func(x int64) float64 { return math.Exp(-float64(x*x) / (2 * sigma2)) })
}

func draw(t *testing.T, n int, sample func() (*big.Int, error)) []int64 {
	t.Helper()
	out := make([]int64, n)
	for i := range out {
		x, err := sample()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = x.Int64()
	}
	return out
}

func TestDiscreteLaplaceMatchesPMF(t *testing.T) {
	t.Parallel()
	for i, scale := range []*big.Rat{big.NewRat(1, 2), big.NewRat(3, 1), big.NewRat(25, 7)} {
		t.Run("scale="+scale.RatString(), func(t *testing.T) {
			t.Parallel()
			s := privacy.NewSampler(seeded(200 + uint64(i)))
			samples := draw(t, statSamples, func() (*big.Int, error) { return s.DiscreteLaplace(scale) })
			ts, _ := scale.Float64()
			d := discreteLaplacePMF(ts)
			// The closed form of the variance checks the reference pmf.
			r := math.Exp(-1 / ts)
			if want := 2 * r / ((1 - r) * (1 - r)); math.Abs(d.moment(2)-want) > 1e-9*want {
				t.Fatalf("reference pmf variance %v, closed form %v", d.moment(2), want)
			}
			checkMoments(t, d, samples)
			checkChiSquare(t, d, samples)
		})
	}
}

func TestDiscreteGaussianMatchesPMF(t *testing.T) {
	t.Parallel()
	for i, sigma2 := range []*big.Rat{big.NewRat(1, 2), big.NewRat(2, 1), big.NewRat(100, 3)} {
		t.Run("sigma2="+sigma2.RatString(), func(t *testing.T) {
			t.Parallel()
			s := privacy.NewSampler(seeded(300 + uint64(i)))
			samples := draw(t, statSamples, func() (*big.Int, error) { return s.DiscreteGaussian(sigma2) })
			v, _ := sigma2.Float64()
			d := discreteGaussianPMF(v)
			checkMoments(t, d, samples)
			checkChiSquare(t, d, samples)
		})
	}
}

// TestBigPathMatchesPMF runs the math/big samplers on their own, at a
// smaller sample size (they are slower), with proportionally looser
// tolerances built into the same checks.
func TestBigPathMatchesPMF(t *testing.T) {
	t.Parallel()
	const n = 10_000
	t.Run("laplace", func(t *testing.T) {
		t.Parallel()
		scale := big.NewRat(7, 3)
		s := privacy.NewSampler(seeded(400))
		samples := draw(t, n, func() (*big.Int, error) { return s.DiscreteLaplaceBig(scale) })
		d := discreteLaplacePMF(7.0 / 3)
		checkMoments(t, d, samples)
		checkChiSquare(t, d, samples)
	})
	t.Run("gaussian", func(t *testing.T) {
		t.Parallel()
		sigma2 := big.NewRat(9, 2)
		s := privacy.NewSampler(seeded(401))
		samples := draw(t, n, func() (*big.Int, error) { return s.DiscreteGaussianBig(sigma2) })
		d := discreteGaussianPMF(4.5)
		checkMoments(t, d, samples)
		checkChiSquare(t, d, samples)
	})
}

// TestFastPathEqualsBigPath checks the uint64 fast paths against the
// math/big paths: from the same random bytes they must return the same
// samples, including parameters where the fast path overflows mid-sample
// and continues in math/big.
func TestFastPathEqualsBigPath(t *testing.T) {
	t.Parallel()
	const n = 3000
	max64 := new(big.Int).SetUint64(math.MaxUint64)
	huge := func(sub int64) *big.Int { return new(big.Int).Sub(max64, big.NewInt(sub)) }
	rats := map[string][]*big.Rat{
		"bernoulli": {big.NewRat(1, 3), big.NewRat(7, 2), big.NewRat(3, 1), new(big.Rat).SetFrac(huge(0), huge(1)), new(big.Rat).SetFrac(big.NewInt(9), huge(58))},
		"laplace":   {big.NewRat(3, 1), big.NewRat(10, 3), new(big.Rat).SetFrac(huge(0), big.NewInt(2)), new(big.Rat).SetFrac(big.NewInt(5), huge(0)), big.NewRat(1<<62, 7)},
		"gaussian":  {big.NewRat(2, 1), big.NewRat(25, 3), big.NewRat(1<<30, 1), big.NewRat(1<<31+1, 1), big.NewRat(10<<20+1, 1<<20), big.NewRat(1, 1<<20)},
	}
	for kind, params := range rats {
		for i, p := range params {
			t.Run(fmt.Sprintf("%s/%s", kind, p.RatString()), func(t *testing.T) {
				t.Parallel()
				fast, slow := privacy.NewSampler(seeded(uint64(500+i))), privacy.NewSampler(seeded(uint64(500+i)))
				for j := range n {
					var a, b string
					switch kind {
					case "bernoulli":
						x, err1 := fast.BernoulliExp(p)
						y, err2 := slow.BernoulliExpBig(p)
						a, b = fmt.Sprint(x, err1), fmt.Sprint(y, err2)
					case "laplace":
						x, err1 := fast.DiscreteLaplace(p)
						y, err2 := slow.DiscreteLaplaceBig(p)
						a, b = fmt.Sprint(x, err1), fmt.Sprint(y, err2)
					case "gaussian":
						x, err1 := fast.DiscreteGaussian(p)
						y, err2 := slow.DiscreteGaussianBig(p)
						a, b = fmt.Sprint(x, err1), fmt.Sprint(y, err2)
					}
					if a != b {
						t.Fatalf("sample %d: fast path %s, math/big path %s", j, a, b)
					}
				}
			})
		}
	}
}

// TestSamplersAcceptHugeParameters runs the public samplers with
// parameters beyond uint64 (the math/big path) and checks the scale of the
// output: E|X|/t ≈ 1 for the Laplace, E[X²]/σ² ≈ 1 for the Gaussian.
func TestSamplersAcceptHugeParameters(t *testing.T) {
	t.Parallel()
	const n = 2000
	s := privacy.NewSampler(seeded(450))
	two70 := new(big.Int).Lsh(big.NewInt(1), 70)
	gamma := new(big.Rat).SetFrac(new(big.Int).Add(two70, big.NewInt(1)), two70)
	hits := 0
	for range n {
		ok, err := s.BernoulliExp(gamma)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			hits++
		}
	}
	p := math.Exp(-1)
	if got, tol := float64(hits)/n, zTwoSided*math.Sqrt(p*(1-p)/n); math.Abs(got-p) > tol {
		t.Errorf("BernoulliExp(1 + 2^-70) frequency %.4f, want %.4f ± %.4f", got, p, tol)
	}
	scale := new(big.Rat).SetFrac(two70, big.NewInt(3))
	sigma2 := new(big.Rat).SetFrac(new(big.Int).Lsh(two70, 10), big.NewInt(3))
	var absSum, sqSum float64
	for range n {
		x, err := s.DiscreteLaplace(scale)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := new(big.Rat).Quo(new(big.Rat).SetInt(x), scale).Float64()
		absSum += math.Abs(f)
		y, err := s.DiscreteGaussian(sigma2)
		if err != nil {
			t.Fatal(err)
		}
		g, _ := new(big.Rat).Quo(new(big.Rat).SetInt(new(big.Int).Mul(y, y)), sigma2).Float64()
		sqSum += g
	}
	if got, tol := absSum/n, zTwoSided/math.Sqrt(n); math.Abs(got-1) > tol { // |X|/t ~ Exp(1)
		t.Errorf("discrete Laplace with scale 2^70/3: E|X|/t = %.3f, want 1 ± %.3f", got, tol)
	}
	if got, tol := sqSum/n, zTwoSided*math.Sqrt(2.0/n); math.Abs(got-1) > tol { // X²/σ² ~ χ²(1)
		t.Errorf("discrete Gaussian with σ² = 2^80/3: E[X²]/σ² = %.3f, want 1 ± %.3f", got, tol)
	}
}

func TestSamplersRefuseNegativeParameters(t *testing.T) {
	t.Parallel()
	s := privacy.NewSampler(seeded(1))
	neg := big.NewRat(-1, 2)
	if _, err := s.BernoulliExp(neg); !errors.Is(err, privacy.ErrInvalid) {
		t.Errorf("BernoulliExp(-1/2) error = %v, want ErrInvalid", err)
	}
	if _, err := s.DiscreteLaplace(neg); !errors.Is(err, privacy.ErrInvalid) {
		t.Errorf("DiscreteLaplace(-1/2) error = %v, want ErrInvalid", err)
	}
	if _, err := s.DiscreteGaussian(neg); !errors.Is(err, privacy.ErrInvalid) {
		t.Errorf("DiscreteGaussian(-1/2) error = %v, want ErrInvalid", err)
	}
	if x, err := s.DiscreteLaplace(new(big.Rat)); err != nil || x.Sign() != 0 {
		t.Errorf("DiscreteLaplace(0) = %v, %v; want 0", x, err)
	}
}

func TestSamplerReportsRandomSourceFailure(t *testing.T) {
	t.Parallel()
	s := privacy.NewSampler(iotest.ErrReader(errors.New("entropy gone")))
	if _, err := s.DiscreteGaussian(big.NewRat(4, 1)); !errors.Is(err, privacy.ErrRandomness) {
		t.Errorf("error = %v, want ErrRandomness", err)
	}
}
