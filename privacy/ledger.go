package privacy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/featurevault/featurevault/kv"
)

// Scope decides what a Ledger keeps one budget for.
type Scope int

const (
	// PerPrincipal keeps one budget per principal, across all views: the
	// guarantee covers everything the principal learns about a subject.
	PerPrincipal Scope = iota + 1
	// PerPrincipalView keeps one budget per principal and view. A subject
	// present in several views loses up to the sum of those budgets to one
	// principal; choose it only when views hold unrelated subjects.
	PerPrincipalView
)

// Ledger is a persistent privacy-budget ledger in a kv.Store, under keys
// "b/…". It uses basic sequential composition: the releases a principal
// receives are together (Σε, Σδ)-DP, so a charge is accepted only while the
// spent epsilon and the spent delta both stay within their totals.
// (Advanced composition or zCDP accounting would allow more queries for the
// same guarantee; they are possible extensions.)
//
// Amounts are fixed point (epsilon in units of 1e-6, delta of 1e-18; see
// Budget): totals are rounded down and charges up, and the arithmetic on
// them is exact. A Ledger is safe for concurrent use, by several processes
// too: every change is one atomic read-modify-write (kv.Update).
type Ledger struct {
	store kv.Store
	scope Scope
}

// Account is the state of one budget.
type Account struct {
	Total     Budget
	Spent     Budget
	Remaining Budget
	// Charges counts the charges not refunded since the last Reset.
	Charges uint64
}

// NewLedger returns a ledger in s, which must support atomic updates
// (kv.Updater, as kv.Badger does).
func NewLedger(s kv.Store, scope Scope) (*Ledger, error) {
	if _, ok := s.(kv.Updater); !ok {
		return nil, errors.New("privacy: the ledger needs a kv.Store with atomic updates (kv.Updater)")
	}
	if scope != PerPrincipal && scope != PerPrincipalView {
		return nil, fmt.Errorf("%w: unknown ledger scope %d; use PerPrincipal or PerPrincipalView", ErrInvalidQuery, scope)
	}
	return &Ledger{store: s, scope: scope}, nil
}

// Scope returns the ledger's scope.
func (l *Ledger) Scope() Scope { return l.scope }

// Set sets the totals of the budget of principal (and view, when the
// ledger is PerPrincipalView; otherwise view is ignored), creating it if
// needed. What was already spent stays spent: lowering a total below it
// leaves nothing remaining. Totals are rounded down to the unit.
func (l *Ledger) Set(principal, view string, epsilonTotal, deltaTotal float64) (Account, error) {
	total, err := totalUnits(epsilonTotal, deltaTotal)
	if err != nil {
		return Account{}, err
	}
	key, err := l.key(principal, view)
	if err != nil {
		return Account{}, err
	}
	var r record
	err = l.update(key, func(old []byte) ([]byte, error) {
		r = record{}
		if old != nil {
			if err := r.decode(old); err != nil {
				return nil, err
			}
		}
		r.total = total
		return r.encode(), nil
	})
	if err != nil {
		return Account{}, err
	}
	return r.account(), nil
}

// Show returns the budget of principal (and view), or ErrNoBudget.
func (l *Ledger) Show(principal, view string) (Account, error) {
	key, err := l.key(principal, view)
	if err != nil {
		return Account{}, err
	}
	vals, err := l.store.Get([][]byte{key})
	if err != nil {
		return Account{}, err
	}
	if vals[0] == nil {
		return Account{}, ErrNoBudget
	}
	var r record
	if err := r.decode(vals[0]); err != nil {
		return Account{}, err
	}
	return r.account(), nil
}

// Reset forgets what principal (and view) spent, keeping the totals: a new
// budget period. ErrNoBudget if none was set.
func (l *Ledger) Reset(principal, view string) (Account, error) {
	key, err := l.key(principal, view)
	if err != nil {
		return Account{}, err
	}
	var r record
	err = l.update(key, func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, ErrNoBudget
		}
		if err := r.decode(old); err != nil {
			return nil, err
		}
		r.spent, r.charges = units{}, 0
		return r.encode(), nil
	})
	if err != nil {
		return Account{}, err
	}
	return r.account(), nil
}

// Charge spends epsilon (> 0) and delta (in [0, 1)), rounded up to the unit,
// from the budget of principal (and view), atomically: of any number of
// concurrent charges, only those that fit are accepted. Charge before
// computing a result and release the result only after Charge succeeded.
//
// A refusal is a *BudgetError matching ErrBudgetExhausted (and ErrNoBudget
// when no budget was set) that says what remains. Parameter errors match
// ErrInvalid.
func (l *Ledger) Charge(principal, view string, epsilon, delta float64) (*Charge, error) {
	cost, err := chargeUnits(epsilon, delta)
	if err != nil {
		return nil, err
	}
	key, err := l.key(principal, view)
	if err != nil {
		return nil, err
	}
	var r record
	err = l.update(key, func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, &BudgetError{Requested: cost.budget(), noBudget: true}
		}
		if err := r.decode(old); err != nil {
			return nil, err
		}
		if left := r.remaining(); !cost.fits(left) {
			return nil, &BudgetError{Requested: cost.budget(), Remaining: left.budget()}
		}
		r.spent = r.spent.plus(cost)
		r.charges++
		return r.encode(), nil
	})
	if err != nil {
		return nil, err
	}
	return &Charge{ledger: l, key: key, cost: cost, after: r.account()}, nil
}

// Charge is an accepted charge.
type Charge struct {
	ledger *Ledger
	key    []byte
	cost   units
	after  Account

	mu       sync.Mutex
	refunded bool
}

// Spent returns what was charged (after rounding up to the unit).
func (c *Charge) Spent() Budget { return c.cost.budget() }

// Account returns the budget just after the charge: Remaining is what the
// answer should state.
func (c *Charge) Account() Account { return c.after }

// Refund gives the charge back. Call it only when the query failed before
// any part of its result was released: a released result has spent its
// budget whatever happens next. Refund is idempotent; after a Reset it
// cannot make the spent amount negative.
func (c *Charge) Refund() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refunded {
		return nil
	}
	err := c.ledger.update(c.key, func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, errNothingToRefund // aborts: nothing is written
		}
		var r record
		if err := r.decode(old); err != nil {
			return nil, err
		}
		r.spent = r.spent.minus(c.cost)
		r.charges = satSub(r.charges, 1)
		return r.encode(), nil
	})
	if err != nil && !errors.Is(err, errNothingToRefund) {
		return err
	}
	c.refunded = true
	return nil
}

var errNothingToRefund = errors.New("privacy: budget record is gone")

// update is kv.Update returning fn's own error as is (not wrapped by the
// store's "kv: " prefix), so that callers see a *BudgetError or a sentinel.
func (l *Ledger) update(key []byte, fn func(old []byte) ([]byte, error)) error {
	var fnErr error
	err := kv.Update(l.store, key, func(old []byte) ([]byte, error) {
		nv, err := fn(old)
		fnErr = err
		return nv, err
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// key returns "b/" then 'p' + len-prefixed principal, or 'v' + principal
// + view. Length prefixes keep ("a/b", "c") and ("a", "b/c") apart.
func (l *Ledger) key(principal, view string) ([]byte, error) {
	if principal == "" {
		return nil, fmt.Errorf("%w: the principal is empty; budgets belong to an authenticated principal", ErrInvalidPrincipal)
	}
	k := []byte("b/p")
	if l.scope == PerPrincipalView {
		if view == "" {
			return nil, fmt.Errorf("%w: the view is empty; this ledger keeps budgets per principal and view", ErrInvalidPrincipal)
		}
		k[2] = 'v'
	}
	k = binary.AppendUvarint(k, uint64(len(principal)))
	k = append(k, principal...)
	if l.scope == PerPrincipalView {
		k = binary.AppendUvarint(k, uint64(len(view)))
		k = append(k, view...)
	}
	return k, nil
}

// record is the stored budget: a version byte, then five big-endian uint64:
// total ε, total δ, spent ε, spent δ, charges.
type record struct {
	total, spent units
	charges      uint64
}

const (
	recordVersion = 1
	recordLen     = 1 + 5*8
)

func (r *record) encode() []byte {
	b := make([]byte, 1, recordLen)
	b[0] = recordVersion
	for _, v := range []uint64{r.total.eps, r.total.delta, r.spent.eps, r.spent.delta, r.charges} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func (r *record) decode(b []byte) error {
	if len(b) != recordLen || b[0] != recordVersion {
		return ErrCorrupt
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[1+8*i:]) }
	*r = record{total: units{u(0), u(1)}, spent: units{u(2), u(3)}, charges: u(4)}
	return nil
}

func (r *record) remaining() units { return r.total.minus(r.spent) }

func (r *record) account() Account {
	return Account{Total: r.total.budget(), Spent: r.spent.budget(), Remaining: r.remaining().budget(), Charges: r.charges}
}
