package privacy

import (
	"errors"
	"fmt"
)

// ErrInvalid is the root of every parameter refusal: errors.Is(err,
// ErrInvalid) holds for each of the more specific sentinels below, so rpc can
// map all of them to InvalidArgument at once. The wrapped message says what
// to change.
var ErrInvalid = errors.New("privacy: invalid")

// Specific parameter refusals. Each wraps ErrInvalid.
var (
	// ErrInvalidEpsilon: epsilon is NaN, infinite, not positive, below the
	// resolution of 1e-6 or above MaxEpsilon.
	ErrInvalidEpsilon = fmt.Errorf("%w epsilon", ErrInvalid)
	// ErrInvalidDelta: delta is NaN or outside [0, 1), or positive but
	// below the resolution of 1e-18.
	ErrInvalidDelta = fmt.Errorf("%w delta", ErrInvalid)
	// ErrInvalidBounds: the clamping bounds are missing, not finite, not
	// increasing, or too large or small in magnitude.
	ErrInvalidBounds = fmt.Errorf("%w bounds", ErrInvalid)
	// ErrInvalidQuery: an unknown aggregate function, a contribution bound
	// out of range, bad histogram buckets, or a bad mechanism parameter.
	ErrInvalidQuery = fmt.Errorf("%w query", ErrInvalid)
	// ErrInvalidPrincipal: an empty principal, or an empty view on a ledger
	// scoped per principal and view.
	ErrInvalidPrincipal = fmt.Errorf("%w principal or view", ErrInvalid)
)

// ErrBudgetExhausted is matched by every refused Charge (see BudgetError,
// which carries what is left). rpc maps it to ResourceExhausted.
var ErrBudgetExhausted = errors.New("privacy: budget exhausted")

// ErrNoBudget is returned by Show, Reset and Charge for a principal (and
// view) that was never given a budget with Set. A Charge refused for this
// reason matches ErrBudgetExhausted too: the remaining budget is zero.
var ErrNoBudget = errors.New("privacy: no budget set; an admin must set one (featurevault budget set)")

// ErrCorrupt: a stored budget record could not be decoded.
var ErrCorrupt = errors.New("privacy: corrupt budget record; restore the store from a backup")

// ErrRandomness: the random source failed. No result may be released.
var ErrRandomness = errors.New("privacy: reading the random source failed")

// ErrUnsortedFeed: Options.WithSortedSubjects promised subjects in
// ascending byte order, and the feed broke the promise. Bounding
// contributions with O(1) memory relies on it; drop the option or sort the
// feed.
var ErrUnsortedFeed = errors.New("privacy: feed is not sorted by subject; drop WithSortedSubjects or feed subjects in ascending byte order")

// ErrOverflow: a true or noisy value does not fit the representation used
// to release it (int64 for integer queries, float64 on the grid).
var ErrOverflow = errors.New("privacy: value out of range for release")

// BudgetError is the error of a refused Charge. It matches
// ErrBudgetExhausted (and ErrNoBudget when no budget was ever set) and
// carries what was asked for and what is left, for the client to act on.
type BudgetError struct {
	Requested Budget
	Remaining Budget
	noBudget  bool
}

func (e *BudgetError) Error() string {
	if e.noBudget {
		return ErrNoBudget.Error()
	}
	return fmt.Sprintf("privacy: budget exhausted: the query needs epsilon %s, delta %s and only epsilon %s, delta %s remain; lower epsilon (or delta) or ask an admin to raise the budget",
		formatAmount(e.Requested.Epsilon), formatAmount(e.Requested.Delta), formatAmount(e.Remaining.Epsilon), formatAmount(e.Remaining.Delta))
}

// Is reports whether target is ErrBudgetExhausted, or ErrNoBudget for a
// principal without a budget.
func (e *BudgetError) Is(target error) bool {
	return target == ErrBudgetExhausted || (e.noBudget && target == ErrNoBudget)
}
