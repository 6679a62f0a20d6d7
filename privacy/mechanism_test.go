package privacy_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/privacy"
)

func TestMechanismsRefuseBadParameters(t *testing.T) {
	t.Parallel()
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		name               string
		epsilon, delta, sv float64
		want               error
	}{
		{"epsilon NaN", nan, 0, 1, privacy.ErrInvalidEpsilon},
		{"epsilon +Inf", inf, 0, 1, privacy.ErrInvalidEpsilon},
		{"epsilon -Inf", -inf, 0, 1, privacy.ErrInvalidEpsilon},
		{"epsilon zero", 0, 0, 1, privacy.ErrInvalidEpsilon},
		{"epsilon negative", -0.5, 0, 1, privacy.ErrInvalidEpsilon},
		{"epsilon below resolution", 4e-7, 0, 1, privacy.ErrInvalidEpsilon},
		{"epsilon above maximum", 2e6, 0, 1, privacy.ErrInvalidEpsilon},
		{"delta NaN", 1, nan, 1, privacy.ErrInvalidDelta},
		{"delta negative", 1, -1e-9, 1, privacy.ErrInvalidDelta},
		{"delta one", 1, 1, 1, privacy.ErrInvalidDelta},
		{"delta above one", 1, 1.5, 1, privacy.ErrInvalidDelta},
		{"delta +Inf", 1, inf, 1, privacy.ErrInvalidDelta},
		{"delta below resolution", 1, 1e-19, 1, privacy.ErrInvalidDelta},
		{"sensitivity zero", 1, 0, 0, privacy.ErrInvalidQuery},
		{"sensitivity negative", 1, 0, -1, privacy.ErrInvalidQuery},
		{"sensitivity NaN", 1, 0, nan, privacy.ErrInvalidQuery},
		{"sensitivity +Inf", 1, 0, inf, privacy.ErrInvalidQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := privacy.NewRealMechanism(tt.epsilon, tt.delta, tt.sv)
			if !errors.Is(err, tt.want) || !errors.Is(err, privacy.ErrInvalid) {
				t.Fatalf("NewRealMechanism error = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "privacy: ") {
				t.Errorf("error %q lacks the privacy: prefix", err)
			}
			if tt.sv >= 1 && tt.sv < inf { // integer mechanism: same parameter checks
				if _, err := privacy.NewIntegerMechanism(tt.epsilon, tt.delta, uint64(tt.sv)); !errors.Is(err, tt.want) {
					t.Errorf("NewIntegerMechanism error = %v, want %v", err, tt.want)
				}
			}
		})
	}
}

func TestLaplaceScaleIsSensitivityOverEpsilon(t *testing.T) {
	t.Parallel()
	tests := []struct {
		epsilon float64
		sens    uint64
		want    *big.Rat
	}{
		{0.3, 2, big.NewRat(20, 3)}, // 0.3 is 300000 units exactly, not 299999
		{1, 1, big.NewRat(1, 1)},
		{0.1, 5, big.NewRat(50, 1)},
		{0.1234567, 1, big.NewRat(1_000_000, 123456)}, // rounded down to 0.123456
	}
	for _, tt := range tests {
		m, err := privacy.NewIntegerMechanism(tt.epsilon, 0, tt.sens)
		if err != nil {
			t.Fatal(err)
		}
		if m.Name() != privacy.MechanismDiscreteLaplace || m.Param().Cmp(tt.want) != 0 {
			t.Errorf("ε=%v Δ=%d: %s scale %s, want discrete_laplace scale %s", tt.epsilon, tt.sens, m.Name(), m.Param().RatString(), tt.want.RatString())
		}
		if got := m.Spent().Epsilon; got > tt.epsilon {
			t.Errorf("ε=%v: spent %v, above what was asked", tt.epsilon, got)
		}
	}
}

// TestGaussianSigmaMeetsEpsilon checks the zCDP calibration: with the σ²
// chosen, ρ = Δ²/(2σ²) converts to an epsilon at most the one asked for,
// and not much below it (the noise is not wastefully large).
func TestGaussianSigmaMeetsEpsilon(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		epsilon, delta float64
		sens           uint64
	}{{1, 1e-9, 1}, {0.1, 1e-6, 3}, {5, 1e-12, 1}, {0.01, 1e-18, 1 << 21}} {
		m, err := privacy.NewIntegerMechanism(tt.epsilon, tt.delta, tt.sens)
		if err != nil {
			t.Fatal(err)
		}
		sigma2, _ := m.Param().Float64()
		rho := float64(tt.sens*tt.sens) / (2 * sigma2)
		got := rho + 2*math.Sqrt(rho*math.Log(1/tt.delta))
		if m.Name() != privacy.MechanismDiscreteGaussian || got > tt.epsilon || got < tt.epsilon*(1-1e-3) {
			t.Errorf("ε=%v δ=%v Δ=%d: %s σ²=%v gives ε=%v; want discrete_gaussian with ε in [%v, %v]", tt.epsilon, tt.delta, tt.sens, m.Name(), sigma2, got, tt.epsilon*(1-1e-3), tt.epsilon)
		}
	}
}

func TestRealMechanismGridExponentFromSensitivity(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sens float64
		k    int
	}{{1, -20}, {100, -14}, {0.37, -22}, {1 << 20, 0}, {1e6, -1}, {3 * (1 << 30), 11}} {
		m, err := privacy.NewRealMechanism(1, 0, tt.sens)
		if err != nil {
			t.Fatal(err)
		}
		if m.GridExponent() != tt.k || m.GridStep() != math.Ldexp(1, tt.k) {
			t.Errorf("sensitivity %v: grid exponent %d, want %d (2^k ≤ sensitivity/2^20 < 2^(k+1))", tt.sens, m.GridExponent(), tt.k)
		}
	}
}

// TestRealMechanismWidensSensitivityByOneStep checks the grid calibration
// exactly: the Laplace scale in grid units is (ceil(Δ/2^k) + 1)/ε.
func TestRealMechanismWidensSensitivityByOneStep(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sens, epsilon float64
		want          *big.Rat
	}{
		{1, 1, big.NewRat(1<<20+1, 1)},            // k = -20: Δ is 2^20 steps
		{0.37, 0.5, big.NewRat(2*(1551893+1), 1)}, // k = -22: 0.37·2^22 = 1551892.48
		{3 << 30, 2, big.NewRat(3<<19+1, 2)},      // k = 11
	} {
		m, err := privacy.NewRealMechanism(tt.epsilon, 0, tt.sens)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.OnGrid().Param(); got.Cmp(tt.want) != 0 {
			t.Errorf("Δ=%v ε=%v: grid scale %s, want %s", tt.sens, tt.epsilon, got.RatString(), tt.want.RatString())
		}
	}
}

func TestRealMechanismOutputsLieOnGrid(t *testing.T) {
	t.Parallel()
	for i, tt := range []struct{ epsilon, delta, sens, value float64 }{
		{1, 0, 1, 0.123456789},
		{0.1, 0, 100, -12345.6789},
		{2, 1e-9, 0.37, 1e-3},
		{0.5, 1e-6, 1e6, 3.3e9},
	} {
		m, err := privacy.NewRealMechanism(tt.epsilon, tt.delta, tt.sens)
		if err != nil {
			t.Fatal(err)
		}
		s := privacy.NewSampler(seeded(600 + uint64(i)))
		distinct := map[float64]bool{}
		for range 2000 {
			v, err := m.Release(s, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if steps := math.Ldexp(v, -m.GridExponent()); steps != math.Trunc(steps) {
				t.Fatalf("release %v is not a multiple of 2^%d", v, m.GridExponent())
			}
			distinct[v] = true
		}
		if len(distinct) < 100 {
			t.Errorf("case %d: only %d distinct outputs in 2000: noise missing?", i, len(distinct))
		}
	}
}

// TestRealMechanismNoiseHasCalibratedSpread checks, end to end, that the
// released values spread as the Laplace scale Δ/ε predicts (in real units).
func TestRealMechanismNoiseHasCalibratedSpread(t *testing.T) {
	t.Parallel()
	const n = 20_000
	m, err := privacy.NewRealMechanism(0.5, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := privacy.NewSampler(seeded(700))
	var s1, s2 float64
	for range n {
		v, err := m.Release(s, 10)
		if err != nil {
			t.Fatal(err)
		}
		s1 += v - 10
		s2 += (v - 10) * (v - 10)
	}
	// Laplace with b = (3 + one grid step)/0.5: variance 2b², fourth central moment 24b⁴.
	b := (3 + m.GridStep()) / 0.5
	want := 2 * b * b
	tol := zTwoSided * math.Sqrt((24*b*b*b*b-want*want)/n)
	if got := s2 / n; math.Abs(got-want) > tol {
		t.Errorf("variance = %.3f, want %.3f ± %.3f", got, want, tol)
	}
	if mean, tol := s1/n, zTwoSided*math.Sqrt(want/n); math.Abs(mean) > tol {
		t.Errorf("mean noise = %.4f, want 0 ± %.4f", mean, tol)
	}
}
