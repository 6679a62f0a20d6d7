package privacy_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/privacy"
)

func memStore(t *testing.T) kv.Store { return memStoreB(t) }

func memStoreB(t testing.TB) kv.Store {
	t.Helper()
	db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newLedger(t *testing.T, scope privacy.Scope) *privacy.Ledger {
	t.Helper()
	l, err := privacy.NewLedger(memStore(t), scope)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLedgerSetShowChargeReset(t *testing.T) {
	t.Parallel()
	l := newLedger(t, privacy.PerPrincipal)
	if _, err := l.Show("alice", ""); !errors.Is(err, privacy.ErrNoBudget) {
		t.Fatalf("Show before Set: error = %v, want ErrNoBudget", err)
	}
	if _, err := l.Set("alice", "", 1, 1e-6); err != nil {
		t.Fatal(err)
	}
	c, err := l.Charge("alice", "", 0.3, 1e-7)
	if err != nil {
		t.Fatal(err)
	}
	want := privacy.Account{
		Total:     privacy.Budget{Epsilon: 1, Delta: 1e-6},
		Spent:     privacy.Budget{Epsilon: 0.3, Delta: 1e-7},
		Remaining: privacy.Budget{Epsilon: 0.7, Delta: 9e-7},
		Charges:   1,
	}
	if diff := cmp.Diff(want, c.Account()); diff != "" {
		t.Errorf("Charge account (-want +got):\n%s", diff)
	}
	if got, err := l.Show("alice", ""); err != nil || !cmp.Equal(got, want) {
		t.Errorf("Show = %+v, %v; want %+v", got, err, want)
	}
	// Raising the total keeps what was spent.
	got, err := l.Set("alice", "", 2, 1e-6)
	if err != nil || got.Remaining.Epsilon != 1.7 || got.Spent.Epsilon != 0.3 {
		t.Errorf("Set(2) = %+v, %v; want 0.3 spent, 1.7 remaining", got, err)
	}
	got, err = l.Reset("alice", "")
	if err != nil || got.Spent != (privacy.Budget{}) || got.Remaining != got.Total || got.Charges != 0 {
		t.Errorf("Reset = %+v, %v; want nothing spent", got, err)
	}
	if _, err := l.Reset("bob", ""); !errors.Is(err, privacy.ErrNoBudget) {
		t.Errorf("Reset of unknown principal: error = %v, want ErrNoBudget", err)
	}
}

func TestLedgerRefusesOverBudgetAndSaysWhatIsLeft(t *testing.T) {
	t.Parallel()
	l := newLedger(t, privacy.PerPrincipal)
	if _, err := l.Set("alice", "", 1, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Charge("alice", "", 0.75, 0); err != nil {
		t.Fatal(err)
	}
	_, err := l.Charge("alice", "", 0.5, 0)
	var be *privacy.BudgetError
	if !errors.Is(err, privacy.ErrBudgetExhausted) || !errors.As(err, &be) {
		t.Fatalf("error = %v, want a BudgetError matching ErrBudgetExhausted", err)
	}
	if want := (privacy.Budget{Epsilon: 0.25}); be.Remaining != want || be.Requested != (privacy.Budget{Epsilon: 0.5}) {
		t.Errorf("BudgetError = %+v, want 0.5 requested and %+v remaining", be, want)
	}
	if got := err.Error(); got != "privacy: budget exhausted: the query needs epsilon 0.5, delta 0 and only epsilon 0.25, delta 0 remain; lower epsilon (or delta) or ask an admin to raise the budget" {
		t.Errorf("message = %q", got)
	}
	// Delta is a budget of its own: epsilon left does not buy delta.
	if _, err := l.Charge("alice", "", 0.1, 1e-9); !errors.Is(err, privacy.ErrBudgetExhausted) {
		t.Errorf("charge of delta beyond a zero delta budget: error = %v, want ErrBudgetExhausted", err)
	}
	// A charge that fits exactly is accepted.
	c, err := l.Charge("alice", "", 0.25, 0)
	if err != nil || c.Account().Remaining != (privacy.Budget{}) {
		t.Errorf("exact charge = %v; want accepted with nothing remaining", err)
	}
}

func TestLedgerWithoutBudgetRefusesCharges(t *testing.T) {
	t.Parallel()
	l := newLedger(t, privacy.PerPrincipal)
	_, err := l.Charge("mallory", "", 0.1, 0)
	if !errors.Is(err, privacy.ErrNoBudget) || !errors.Is(err, privacy.ErrBudgetExhausted) {
		t.Errorf("error = %v, want ErrNoBudget and ErrBudgetExhausted", err)
	}
}

// TestConcurrentChargesNeverOverspend runs many charges at once: exactly
// floor(total/charge) succeed (in fixed point, so 0.7/0.1 is 7 even though
// 0.7/0.1 < 7 in float64), and the ledger ends exactly full.
func TestConcurrentChargesNeverOverspend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		totalEps, totalDelta, eps, delta float64
		want                             int
	}{
		{1, 0, 0.1, 0, 10},
		{1, 0, 0.3, 0, 3},
		{0.7, 0, 0.1, 0, 7},
		{100, 1e-6, 0.001, 1e-7, 10}, // delta runs out first
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%v", tt.totalEps, tt.eps), func(t *testing.T) {
			t.Parallel()
			l := newLedger(t, privacy.PerPrincipalView)
			if _, err := l.Set("alice", "v", tt.totalEps, tt.totalDelta); err != nil {
				t.Fatal(err)
			}
			const workers = 48
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for range workers {
				wg.Go(func() {
					_, err := l.Charge("alice", "v", tt.eps, tt.delta)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			ok := 0
			for err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, privacy.ErrBudgetExhausted):
					t.Errorf("unexpected error: %v", err)
				}
			}
			if ok != tt.want {
				t.Errorf("%d charges succeeded, want %d", ok, tt.want)
			}
			a, err := l.Show("alice", "v")
			if err != nil {
				t.Fatal(err)
			}
			if a.Charges != uint64(tt.want) || a.Spent.Epsilon > tt.totalEps || a.Spent.Delta > tt.totalDelta ||
				math.Abs(a.Spent.Epsilon-float64(tt.want)*tt.eps) > 1e-9 {
				t.Errorf("after the race: %+v; want %d charges of %v", a, tt.want, tt.eps)
			}
		})
	}
}

func TestChargesRoundUpSoTheyCannotBeGamed(t *testing.T) {
	t.Parallel()
	l := newLedger(t, privacy.PerPrincipal)
	if _, err := l.Set("alice", "", 1e-5, 0); err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n < 100; n++ {
		if _, err := l.Charge("alice", "", 4e-7, 0); err != nil {
			break
		}
	}
	if n != 10 {
		t.Errorf("%d charges of 4e-7 fit in 1e-5; want 10 (each rounds up to 1e-6)", n)
	}
	c, err := newLedgerWith(t, 1).Charge("alice", "", 0.3, 0)
	if err != nil || c.Spent().Epsilon != 0.3 {
		t.Errorf("charge of 0.3 spent %v, %v; want exactly 0.3", c.Spent(), err)
	}
}

// TestDecimalAmountsAreExact: a decimal epsilon whose float64 product with
// 1e6 lands just off the integer is still that many units, for queries
// (rounded down) and charges (rounded up) alike.
func TestDecimalAmountsAreExact(t *testing.T) {
	t.Parallel()
	// 0.000249·1e6 = 248.99999999999997 and 0.000123·1e6 = 123.00000000000001 in float64.
	for _, eps := range []float64{0.000249, 0.000123} {
		cost, err := privacy.Query{Fn: privacy.Count, Epsilon: eps, MaxContributions: 1}.Cost()
		if err != nil || cost.Epsilon != eps {
			t.Errorf("query cost of epsilon %v = %v, %v; want exactly %v", eps, cost.Epsilon, err, eps)
		}
		c, err := newLedgerWith(t, 1).Charge("alice", "", eps, 0)
		if err != nil || c.Spent().Epsilon != eps {
			t.Errorf("charge of epsilon %v spent %v, %v; want exactly %v", eps, c.Spent(), err, eps)
		}
	}
}

func newLedgerWith(t *testing.T, eps float64) *privacy.Ledger {
	t.Helper()
	l := newLedger(t, privacy.PerPrincipal)
	if _, err := l.Set("alice", "", eps, 0); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestRefundGivesTheChargeBackOnce(t *testing.T) {
	t.Parallel()
	l := newLedgerWith(t, 1)
	keep, err := l.Charge("alice", "", 0.2, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Charge("alice", "", 0.5, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := c.Refund(); err != nil {
			t.Fatal(err)
		}
	}
	if a, _ := l.Show("alice", ""); a.Spent.Epsilon != 0.2 || a.Charges != 1 {
		t.Errorf("after refund: %+v; want 0.2 spent by 1 charge", a)
	}
	if _, err := l.Reset("alice", ""); err != nil {
		t.Fatal(err)
	}
	if err := keep.Refund(); err != nil {
		t.Fatal(err)
	}
	if a, _ := l.Show("alice", ""); a.Spent.Epsilon != 0 || a.Remaining.Epsilon != 1 {
		t.Errorf("refund after reset: %+v; want nothing spent, not negative", a)
	}
}

func TestLedgerScopes(t *testing.T) {
	t.Parallel()
	t.Run("per principal spans views", func(t *testing.T) {
		t.Parallel()
		l := newLedgerWith(t, 1)
		if _, err := l.Charge("alice", "v1", 0.6, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Charge("alice", "v2", 0.6, 0); !errors.Is(err, privacy.ErrBudgetExhausted) {
			t.Errorf("second view: error = %v, want ErrBudgetExhausted", err)
		}
	})
	t.Run("per principal and view", func(t *testing.T) {
		t.Parallel()
		l := newLedger(t, privacy.PerPrincipalView)
		for _, pv := range [][2]string{{"a/b", "c"}, {"a", "b/c"}} {
			if _, err := l.Set(pv[0], pv[1], 1, 0); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Charge("a/b", "c", 1, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Charge("a", "b/c", 1, 0); err != nil {
			t.Errorf("(a, b/c) shares a budget with (a/b, c): %v", err)
		}
		if _, err := l.Charge("a", "other", 0.1, 0); !errors.Is(err, privacy.ErrNoBudget) {
			t.Errorf("unset view: error = %v, want ErrNoBudget", err)
		}
		if _, err := l.Charge("a", "", 0.1, 0); !errors.Is(err, privacy.ErrInvalidPrincipal) {
			t.Errorf("empty view: error = %v, want ErrInvalidPrincipal", err)
		}
	})
}

func TestLedgerPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() (*kv.Badger, *privacy.Ledger) {
		db, err := kv.OpenBadger(kv.DefaultOptions(dir))
		if err != nil {
			t.Fatal(err)
		}
		l, err := privacy.NewLedger(db, privacy.PerPrincipal)
		if err != nil {
			t.Fatal(err)
		}
		return db, l
	}
	db, l := open()
	if _, err := l.Set("alice", "", 1, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Charge("alice", "", 0.4, 0); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, l = open()
	defer db.Close()
	if a, err := l.Show("alice", ""); err != nil || a.Remaining.Epsilon != 0.6 {
		t.Errorf("after reopening: %+v, %v; want 0.6 remaining", a, err)
	}
}

func TestLedgerRefusesBadParameters(t *testing.T) {
	t.Parallel()
	l := newLedgerWith(t, 1)
	for _, tt := range []struct {
		name           string
		principal      string
		eps, delta     float64
		want           error
		setAlsoRefuses bool // Set accepts a zero total: it blocks charges
	}{
		{"epsilon NaN", "alice", math.NaN(), 0, privacy.ErrInvalidEpsilon, true},
		{"epsilon infinite", "alice", math.Inf(1), 0, privacy.ErrInvalidEpsilon, true},
		{"epsilon negative", "alice", -1, 0, privacy.ErrInvalidEpsilon, true},
		{"epsilon zero", "alice", 0, 0, privacy.ErrInvalidEpsilon, false},
		{"delta NaN", "alice", 0.1, math.NaN(), privacy.ErrInvalidDelta, true},
		{"delta one", "alice", 0.1, 1, privacy.ErrInvalidDelta, true},
		{"delta negative", "alice", 0.1, -1e-9, privacy.ErrInvalidDelta, true},
		{"empty principal", "", 0.1, 0, privacy.ErrInvalidPrincipal, true},
	} {
		if _, err := l.Charge(tt.principal, "", tt.eps, tt.delta); !errors.Is(err, tt.want) {
			t.Errorf("%s: Charge error = %v, want %v", tt.name, err, tt.want)
		}
		_, err := l.Set(tt.principal, "", tt.eps, tt.delta)
		if tt.setAlsoRefuses && !errors.Is(err, tt.want) {
			t.Errorf("%s: Set error = %v, want %v", tt.name, err, tt.want)
		}
	}
	if a, _ := l.Show("alice", ""); a.Spent != (privacy.Budget{}) {
		t.Errorf("refused charges spent %+v", a.Spent)
	}
}

func TestLedgerDetectsCorruptRecords(t *testing.T) {
	t.Parallel()
	s := memStore(t)
	l, err := privacy.NewLedger(s, privacy.PerPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	key, err := l.LedgerKey("alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(key[:2]) != "b/" {
		t.Fatalf("ledger key %q is not under b/", key)
	}
	if err := s.Apply([]kv.Op{{Key: key, Value: []byte("garbage")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Charge("alice", "", 0.1, 0); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("Charge error = %v, want ErrCorrupt", err)
	}
	if _, err := l.Show("alice", ""); !errors.Is(err, privacy.ErrCorrupt) {
		t.Errorf("Show error = %v, want ErrCorrupt", err)
	}
}
