package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/featurevault/featurevault/store"
)

// Constraints are keys of a field in the spec: required, min and max,
// allowed and max_length. Bounds shape DP aggregates and must lie within
// [min, max].
func ExampleParseSpec_constraints() {
	spec, err := store.ParseSpec([]byte(`
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: customer_profile
    entity: customer
    fields:
      - {name: email,  type: string,  required: true, max_length: 254}
      - {name: age,    type: int64,   min: 0, max: 150}
      - {name: income, type: float64, min: 0, max: 10000000, bounds: [0, 1000000]}
      - {name: tier,   type: string,  allowed: [gold, silver, bronze]}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range spec.Views[0].Fields {
		c := f.Constraints
		fmt.Printf("%s required=%v", f.Name, c.Required)
		if c.Min != nil {
			fmt.Printf(" min=%g", *c.Min)
		}
		if c.Max != nil {
			fmt.Printf(" max=%g", *c.Max)
		}
		if c.MaxLength > 0 {
			fmt.Printf(" max_length=%d", c.MaxLength)
		}
		if len(c.AllowedStrings) > 0 {
			fmt.Printf(" allowed=%v", c.AllowedStrings)
		}
		fmt.Println()
	}
	_, err = store.ParseSpec([]byte(`
feature_views:
  - name: customer_profile
    entity: customer
    fields:
      - {name: income, type: float64, min: 0, bounds: [-100, 1000000]}
`))
	fmt.Println(err)
	// Output:
	// email required=true max_length=254
	// age required=false min=0 max=150
	// income required=false min=0 max=1e+07
	// tier required=false allowed=[gold silver bronze]
	// store: feature_views[0] "customer_profile" field "income": bounds [-100, 1000000] reach below min 0: DP bounds must lie within [min, max], where every written value is; raise the lower bound to at least 0
}

// A write with a row that breaks a constraint is refused as a whole. The
// error names the row by position, the view, the field and the rule; it
// never holds the value or the entity key.
func ExampleConstraints() {
	dir, _ := os.MkdirTemp("", "featurevault-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, store.DefaultOptions(dir).WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	spec, _ := store.ParseSpec([]byte(`
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: customer_profile
    entity: customer
    fields:
      - {name: age,  type: int64,  required: true, min: 0, max: 150}
      - {name: tier, type: string, allowed: [gold, silver, bronze]}
`))
	if err := s.ApplySpec(spec); err != nil {
		fmt.Println(err)
		return
	}
	_, err = s.Write(ctx, "customer_profile", []store.Row{
		{EntityKey: "c-1", Values: map[string]any{"age": int64(41), "tier": "gold"}},
		{EntityKey: "c-2", Values: map[string]any{"age": int64(412)}},
	})
	fmt.Println(err)
	_, err = s.Write(ctx, "customer_profile", []store.Row{{EntityKey: "c-3", Values: map[string]any{"tier": "gold"}}})
	fmt.Println(err)
	res, _ := s.GetOnline(ctx, "customer_profile", []string{"c-1"}, []string{"age"})
	fmt.Println("c-1 after the refused write:", res.Rows[0].Statuses[0])
	// Output:
	// store: row 1: view "customer_profile" field "age" is above max 150 declared in the spec; fix the source data, or change the constraint and apply the spec again
	// store: row 0: view "customer_profile" field "age" is required; give it a non-null value in every row
	// c-1 after the refused write: NOT_FOUND
}
