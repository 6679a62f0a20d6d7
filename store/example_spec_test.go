package store_test

import (
	"fmt"

	"github.com/featurevault/featurevault/store"
)

func ExampleParseSpec() {
	spec, err := store.ParseSpec([]byte(`
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: customer_profile
    entity: customer
    ttl: 720h
    fields:
      - {name: email,  type: string,  tags: [pii]}
      - {name: income, type: float64, tags: [pii, sensitive], bounds: [0, 1000000]}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	v := spec.Views[0]
	fmt.Println(v.Name, "about", v.Entity, "expires after", v.TTL)
	for _, f := range v.Fields {
		fmt.Println(f.Name, f.Type, f.Tags, f.Bounds)
	}
	// Output:
	// customer_profile about customer expires after 720h0m0s
	// email string [pii] []
	// income float64 [pii sensitive] [0 1e+06]
}

func ExampleParseSpec_error() {
	_, err := store.ParseSpec([]byte(`
feature_views:
  - name: customer_profile
    entity: customer
    fields:
      - {name: income, type: float64, bounds: [100, 0]}
`))
	fmt.Println(err)
	// Output:
	// store: feature_views[0] "customer_profile" field "income": bounds [100, 0] must be [min, max] with min < max
}

func ExampleMarshalSpec() {
	spec := &store.Spec{Views: []store.View{{
		Name: "customer_profile", Entity: "customer", ID: 3, SchemaVersion: 2,
		Fields: []store.Field{
			{Name: "email", Type: store.String, Tags: []string{"pii"}},
			{Name: "age", Type: store.Int64, Bounds: []float64{0, 130}},
		},
	}}}
	b, err := store.MarshalSpec(spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(b))
	// Output:
	// feature_views:
	//   # id 3, schema version 2
	//   - name: customer_profile
	//     entity: customer
	//     fields:
	//       - {name: email, type: string, tags: [pii]}
	//       - {name: age, type: int64, bounds: [0, 130]}
}
