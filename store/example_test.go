package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/featurevault/featurevault/store"
)

// Open a store, apply a spec, write a row and read the latest values back.
// Every value is encrypted on its own before it reaches the disk.
func ExampleStore_GetOnline() {
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
  - name: profile
    entity: customer
    fields:
      - {name: income, type: float64, tags: [pii]}
      - {name: age, type: int64}
`))
	if err := s.ApplySpec(spec); err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	_, err = s.Write(ctx, "profile", []store.Row{{EntityKey: "c-42", EventTime: at, Values: map[string]any{"income": 52000.5, "age": int64(41)}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := s.GetOnline(ctx, "profile", []string{"c-42", "c-7"}, []string{"income", "age"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Rows {
		fmt.Println(r.EntityKey, r.Values, r.Statuses)
	}
	// Output:
	// c-42 [52000.5 41] [PRESENT PRESENT]
	// c-7 [<nil> <nil>] [NOT_FOUND NOT_FOUND]
}
