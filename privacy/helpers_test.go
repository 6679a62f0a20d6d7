package privacy_test

import (
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"testing"
)

// Statistical tests use fixed seeds, so they pass or fail deterministically;
// their tolerances are set so that a correct sampler would fail for a
// random seed with probability about 1e-5 per check.
const (
	statSamples = 125_000
	zTwoSided   = 4.417 // P(|Z| > z) = 1e-5
	zOneSided   = 4.265 // P(Z > z) = 1e-5
)

// seeded returns a deterministic ChaCha8 stream. Tests only.
func seeded(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// pmf is a probability mass function on [-r, r] (negligible mass outside).
type pmf struct {
	r int64
	p []float64 // p[x+r]
}

func newPMF(r int64, weight func(x int64) float64) pmf {
	d := pmf{r: r, p: make([]float64, 2*r+1)}
	var total float64
	for x := -r; x <= r; x++ {
		d.p[x+r] = weight(x)
		total += d.p[x+r]
	}
	for i := range d.p {
		d.p[i] /= total
	}
	return d
}

func (d pmf) at(x int64) float64 {
	if x < -d.r || x > d.r {
		return 0
	}
	return d.p[x+d.r]
}

// moment returns E[X^k].
func (d pmf) moment(k int) float64 {
	var m float64
	for x := -d.r; x <= d.r; x++ {
		m += math.Pow(float64(x), float64(k)) * d.at(x)
	}
	return m
}

// checkMoments checks that the sample mean and second moment of samples
// (from a distribution symmetric around 0) match d within zTwoSided
// standard errors; the second moment's standard error uses the fourth.
func checkMoments(t *testing.T, d pmf, samples []int64) {
	t.Helper()
	n := float64(len(samples))
	var s1, s2 float64
	for _, x := range samples {
		f := float64(x)
		s1 += f
		s2 += f * f
	}
	m2, m4 := d.moment(2), d.moment(4)
	mean, second := s1/n, s2/n
	if tol := zTwoSided * math.Sqrt(m2/n); math.Abs(mean) > tol {
		t.Errorf("mean = %.5f, want 0 ± %.5f", mean, tol)
	}
	if tol := zTwoSided * math.Sqrt((m4-m2*m2)/n); math.Abs(second-m2) > tol {
		t.Errorf("variance = %.5f, want %.5f ± %.5f", second, m2, tol)
	}
}

// checkChiSquare runs a chi-square goodness-of-fit test of samples against
// d: one cell per integer, adjacent cells merged left to right until each
// expects at least 5 samples (the mass beyond ±r goes to the end cells),
// and a critical value at p = 1e-5 (Wilson–Hilferty).
func checkChiSquare(t *testing.T, d pmf, samples []int64) {
	t.Helper()
	n := float64(len(samples))
	cellOf := make([]int, 2*d.r+1) // integer -> merged cell
	var expected []float64
	acc, cell := 0.0, 0
	for x := -d.r; x <= d.r; x++ {
		acc += n * d.at(x)
		cellOf[x+d.r] = cell
		if acc >= 5 {
			expected = append(expected, acc)
			acc, cell = 0, cell+1
		}
	}
	if acc > 0 { // the remainder joins the last cell
		expected[len(expected)-1] += acc
		for i := range cellOf {
			cellOf[i] = min(cellOf[i], len(expected)-1)
		}
	}
	observed := make([]float64, len(expected))
	for _, x := range samples {
		x = min(max(x, -d.r), d.r)
		observed[cellOf[x+d.r]]++
	}
	var stat float64
	for i, e := range expected {
		stat += (observed[i] - e) * (observed[i] - e) / e
	}
	df := float64(len(expected) - 1)
	h := 2 / (9 * df)
	critical := df * math.Pow(1-h+zOneSided*math.Sqrt(h), 3)
	if stat > critical {
		t.Errorf("chi-square = %.1f with %v degrees of freedom, above the critical value %.1f (p = 1e-5)", stat, df, critical)
	}
	if len(expected) < 5 {
		t.Errorf("only %d cells: the test has no power", len(expected))
	}
}
