package privacy_test

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/privacy"
)

// A server's order of work: cost, charge, aggregate, release (or refund).
func ExampleAggregate() {
	db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ledger, err := privacy.NewLedger(db, privacy.PerPrincipal)
	if err != nil {
		panic(err)
	}
	if _, err := ledger.Set("analyst", "", 1, 0); err != nil {
		panic(err)
	}

	// 1000 subjects with one income each, in ascending subject order (as a
	// store scan emits blind indexes).
	feed := func(emit func(subject []byte, value float64) error) error {
		for i := range 1000 {
			if err := emit(fmt.Appendf(nil, "subject-%04d", i), float64(1000+10*(i%100))); err != nil {
				return err
			}
		}
		return nil
	}
	q := privacy.Query{Fn: privacy.Mean, Epsilon: 0.5, Bounds: [2]float64{0, 5000}, MaxContributions: 1}

	cost, err := q.Cost()
	if err != nil {
		panic(err)
	}
	charge, err := ledger.Charge("analyst", "", cost.Epsilon, cost.Delta)
	if err != nil {
		panic(err) // over budget: nothing computed, nothing released
	}
	// A seeded stream makes the output reproducible; a server leaves the
	// default, crypto/rand.
	opts := privacy.DefaultOptions().WithSortedSubjects(true).WithRandom(rand.NewChaCha8([32]byte{7}))
	res, err := privacy.Aggregate(q, feed, opts)
	if err != nil {
		_ = charge.Refund() // failed before release
		panic(err)
	}
	fmt.Printf("mean income ≈ %.0f (true 1495), %s\n", res.Value, res.Mechanism)
	fmt.Printf("epsilon spent %v, remaining %v\n", res.Spent.Epsilon, charge.Account().Remaining.Epsilon)
	// Output:
	// mean income ≈ 1527 (true 1495), discrete_laplace
	// epsilon spent 0.5, remaining 0.5
}

func ExampleLedger_Charge() {
	db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ledger, err := privacy.NewLedger(db, privacy.PerPrincipalView)
	if err != nil {
		panic(err)
	}
	if _, err := ledger.Set("analyst", "customer_profile", 1, 1e-6); err != nil {
		panic(err)
	}
	for i := 1; i <= 5; i++ {
		c, err := ledger.Charge("analyst", "customer_profile", 0.4, 1e-9)
		var be *privacy.BudgetError
		if errors.As(err, &be) {
			fmt.Printf("query %d refused: %v remaining\n", i, be.Remaining.Epsilon)
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Printf("query %d: epsilon %v remaining\n", i, c.Account().Remaining.Epsilon)
	}
	// Output:
	// query 1: epsilon 0.6 remaining
	// query 2: epsilon 0.2 remaining
	// query 3 refused: 0.2 remaining
}

func ExampleSampler_DiscreteGaussian() {
	s := privacy.NewSampler(rand.NewChaCha8([32]byte{1})) // crypto/rand with nil
	for range 8 {
		x, err := s.DiscreteGaussian(big.NewRat(9, 1)) // σ = 3
		if err != nil {
			panic(err)
		}
		fmt.Print(x, " ")
	}
	fmt.Println()
	// Output: 3 -3 1 4 -6 3 5 -4
}
