package store_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/featurevault/featurevault/store"
)

// exampleStore opens a store in a temporary directory with a view of
// daily spend, and writes two days of two customers.
func exampleStore() (*store.Store, func()) {
	dir, err := os.MkdirTemp("", "featurevault-example")
	if err != nil {
		panic(err)
	}
	s, err := store.Open(context.Background(), store.DefaultOptions(dir).WithLogger(quietLog).WithSyncWrites(false))
	if err != nil {
		panic(err)
	}
	spec, err := store.ParseSpec([]byte(`
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: spend
    entity: customer
    ttl: 48h
    fields: [{name: spend_7d, type: float64}]
`))
	if err != nil {
		panic(err)
	}
	if err := s.ApplySpec(spec); err != nil {
		panic(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }
	_, err = s.Write(context.Background(), "spend", []store.Row{
		{EntityKey: "c-1", EventTime: day(1), Values: map[string]any{"spend_7d": 10.0}},
		{EntityKey: "c-1", EventTime: day(2), Values: map[string]any{"spend_7d": 12.5}},
		{EntityKey: "c-2", EventTime: day(1), Values: map[string]any{"spend_7d": 99.0}},
	})
	if err != nil {
		panic(err)
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }
}

// A scan streams a view in batches; as of a time, it reads the latest row
// of each entity at that time, within the view's TTL.
func ExampleStore_Scan() {
	s, done := exampleStore()
	defer done()
	sc, err := s.Scan(context.Background(), "spend", store.ScanOptions{AsOf: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	defer sc.Close()
	n := 0
	for sc.Next() {
		b := sc.Batch()
		for i := range b.Len() {
			n++
			_ = b.EntityKey(i) // the raw key, decrypted from the subject record
		}
	}
	fmt.Println(n, "entities as of noon on 1 October; error:", sc.Err())
	// Output:
	// 2 entities as of noon on 1 October; error: <nil>
}

// A point-in-time lookup answers each entity row with the values it would
// have seen: never a later row, never one older than the TTL.
func ExampleStore_GetHistorical() {
	s, done := exampleStore()
	defer done()
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, time.UTC) }
	b, err := s.GetHistorical(context.Background(), "spend",
		[]string{"c-1", "c-1", "c-2", "c-2"},
		[]time.Time{at(1, 18), at(2, 6), at(2, 23), at(3, 1)},
		store.HistoricalOptions{})
	if err != nil {
		panic(err)
	}
	for i := range b.Len() {
		if b.Found(i) {
			fmt.Println(b.EntityKey(i), b.Float64(i, 0), "from", b.EventTime(i).Format(time.DateOnly))
		} else {
			fmt.Println(b.EntityKey(i), "none")
		}
	}
	// Output:
	// c-1 10 from 2026-10-01
	// c-1 12.5 from 2026-10-02
	// c-2 99 from 2026-10-01
	// c-2 none
}
