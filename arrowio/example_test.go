package arrowio_test

import (
	"fmt"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/store"
)

// The table form of a view: join key, event time, then the fields.
func ExampleViewSchema() {
	spec, err := store.ParseSpec([]byte(`
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: customer_profile
    entity: customer
    fields:
      - {name: income, type: float64, tags: [pii]}
      - {name: embedding, type: "list<float32>"}
`))
	if err != nil {
		panic(err)
	}
	schema, err := arrowio.ViewSchema(spec.Views[0], spec.Entities[0])
	if err != nil {
		panic(err)
	}
	for _, f := range schema.Fields() {
		fmt.Printf("%s: %s\n", f.Name, f.Type)
	}
	// Output:
	// customer_id: utf8
	// event_timestamp: timestamp[ns, tz=UTC]
	// income: float64
	// embedding: list<item: float32, nullable>
}
