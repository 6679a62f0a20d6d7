package privacy

import (
	"fmt"
	"math"
	"strconv"
)

// Budget is an amount of privacy loss: epsilon and delta of (ε, δ)-DP. It
// is what a query costs, what a ledger holds and what remains.
type Budget struct {
	Epsilon float64
	Delta   float64
}

// Privacy loss is accounted in fixed point so that no sequence of charges
// can be made cheaper by floating-point rounding: epsilon in units of 1e-6,
// delta in units of 1e-18.
//
//   - A query's epsilon and delta are rounded down to the unit, and the
//     mechanism is calibrated to exactly the rounded value: the guarantee is
//     at least as strong as asked and equals what is charged.
//   - Charge rounds up, so an amount that did not come from a query is never
//     under-charged (1e6 charges of 4e-7 cost 1, not 0).
//
// A float within 2^-50 (relative) of a unit boundary counts as on it in both
// directions, so 0.3 is 300000 units, not 299999 or 300001.
const (
	epsilonUnitsPerOne = 1e6
	deltaUnitsPerOne   = 1e18

	// MinEpsilon is the smallest epsilon a query or charge may use.
	MinEpsilon = 1 / epsilonUnitsPerOne
	// MinDelta is the smallest positive delta.
	MinDelta = 1 / deltaUnitsPerOne
	// MaxEpsilon is the largest epsilon of one query or charge. Far above
	// any meaningful value; it keeps fixed-point sums exact.
	MaxEpsilon = 1e6
	// MaxTotalEpsilon is the largest epsilon budget Set accepts.
	MaxTotalEpsilon = 1e9
)

// units is an amount in fixed point: eps in 1e-6, delta in 1e-18.
type units struct{ eps, delta uint64 }

func (u units) budget() Budget {
	return Budget{Epsilon: float64(u.eps) / epsilonUnitsPerOne, Delta: float64(u.delta) / deltaUnitsPerOne}
}

func (u units) fits(in units) bool { return u.eps <= in.eps && u.delta <= in.delta }

func (u units) plus(v units) units { return units{u.eps + v.eps, u.delta + v.delta} }

// minus is saturating: a refund after a reset never goes below zero.
func (u units) minus(v units) units { return units{satSub(u.eps, v.eps), satSub(u.delta, v.delta)} }

func satSub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// quantize converts x ≥ 0 to units of 1/perOne, rounding up or down, with
// values within float noise of a unit boundary snapped onto it.
func quantize(x, perOne float64, up bool) uint64 {
	y := x * perOne
	if r := math.Round(y); math.Abs(y-r) <= y*0x1p-50 {
		return uint64(r)
	}
	if up {
		return uint64(math.Ceil(y))
	}
	return uint64(math.Floor(y))
}

// checkEpsilon refuses what no epsilon may be, with a message saying what
// to pass instead.
func checkEpsilon(eps, max float64) error {
	switch {
	case math.IsNaN(eps):
		return fmt.Errorf("%w: NaN; pass a finite number > 0, such as 0.5", ErrInvalidEpsilon)
	case math.IsInf(eps, 0):
		return fmt.Errorf("%w: infinite; pass a finite number > 0, such as 0.5", ErrInvalidEpsilon)
	case eps <= 0:
		return fmt.Errorf("%w: %s is not positive; pass a finite number > 0, such as 0.5", ErrInvalidEpsilon, formatAmount(eps))
	case eps > max:
		return fmt.Errorf("%w: %s is above the maximum %s", ErrInvalidEpsilon, formatAmount(eps), formatAmount(max))
	}
	return nil
}

func checkDelta(delta float64) error {
	switch {
	case math.IsNaN(delta):
		return fmt.Errorf("%w: NaN; pass 0 (pure epsilon-DP) or a value in (0, 1) such as 1e-9", ErrInvalidDelta)
	case delta < 0 || delta >= 1:
		return fmt.Errorf("%w: %s is outside [0, 1); pass 0 (pure epsilon-DP) or a small value such as 1e-9", ErrInvalidDelta, formatAmount(delta))
	}
	return nil
}

// queryUnits validates a query's (ε, δ) and rounds both down to units.
func queryUnits(eps, delta float64) (units, error) {
	if err := checkEpsilon(eps, MaxEpsilon); err != nil {
		return units{}, err
	}
	if err := checkDelta(delta); err != nil {
		return units{}, err
	}
	u := units{quantize(eps, epsilonUnitsPerOne, false), quantize(delta, deltaUnitsPerOne, false)}
	if u.eps == 0 {
		return units{}, fmt.Errorf("%w: %s is below the resolution; pass at least %s", ErrInvalidEpsilon, formatAmount(eps), formatAmount(MinEpsilon))
	}
	if delta > 0 && u.delta == 0 {
		return units{}, fmt.Errorf("%w: %s is below the resolution; pass 0 or at least %s", ErrInvalidDelta, formatAmount(delta), formatAmount(MinDelta))
	}
	return u, nil
}

// chargeUnits validates a charge's (ε, δ) and rounds both up to units.
func chargeUnits(eps, delta float64) (units, error) {
	if err := checkEpsilon(eps, MaxEpsilon); err != nil {
		return units{}, err
	}
	if err := checkDelta(delta); err != nil {
		return units{}, err
	}
	return units{quantize(eps, epsilonUnitsPerOne, true), quantize(delta, deltaUnitsPerOne, true)}, nil
}

// totalUnits validates a budget's totals and rounds both down to units.
// Zero is allowed: it blocks every charge.
func totalUnits(eps, delta float64) (units, error) {
	if math.IsNaN(eps) || math.IsInf(eps, 0) || eps < 0 || eps > MaxTotalEpsilon {
		return units{}, fmt.Errorf("%w: budget epsilon %s is not in [0, %s]; pass a finite total such as 10", ErrInvalidEpsilon, formatAmount(eps), formatAmount(MaxTotalEpsilon))
	}
	if err := checkDelta(delta); err != nil {
		return units{}, err
	}
	return units{quantize(eps, epsilonUnitsPerOne, false), quantize(delta, deltaUnitsPerOne, false)}, nil
}

// split divides u in two parts that add up to exactly u, for a query made
// of two releases (a mean). Both parts must be usable on their own.
func (u units) split() (a, b units, err error) {
	a = units{u.eps / 2, u.delta / 2}
	b = units{u.eps - a.eps, u.delta - a.delta}
	if a.eps == 0 {
		return a, b, fmt.Errorf("%w: a mean spends half of epsilon on a sum and half on a count; pass at least %s", ErrInvalidEpsilon, formatAmount(2*MinEpsilon))
	}
	if u.delta > 0 && a.delta == 0 {
		return a, b, fmt.Errorf("%w: a mean spends half of delta on a sum and half on a count; pass 0 or at least %s", ErrInvalidDelta, formatAmount(2*MinDelta))
	}
	return a, b, nil
}

func formatAmount(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
