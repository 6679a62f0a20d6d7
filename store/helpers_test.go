package store_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/featurevault/featurevault/store"
)

// allTypesSpec declares one field of every type, a string-keyed entity and
// an int64-keyed one.
const allTypesSpec = `
entities:
  - name: customer
    join_key: customer_id
    type: string
  - name: instrument
    join_key: instrument_id
    type: int64
feature_views:
  - name: profile
    entity: customer
    ttl: 0
    fields:
      - {name: active,    type: bool}
      - {name: age,       type: int64}
      - {name: income,    type: float64, tags: [pii, sensitive], bounds: [0, 1000000]}
      - {name: email,     type: string,  tags: [pii]}
      - {name: avatar,    type: bytes}
      - {name: signup,    type: timestamp}
      - {name: embedding, type: "list<float32>"}
      - {name: score,     type: int64}
  - name: quotes
    entity: instrument
    ttl: 1h
    fields:
      - {name: bid, type: float64}
      - {name: ask, type: float64}
`

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens a store in dir with the all-types spec applied.
func openStore(t testing.TB, dir string, opts ...func(store.Options) store.Options) *store.Store {
	t.Helper()
	o := store.DefaultOptions(dir).WithLogger(quietLog).WithSyncWrites(false)
	for _, f := range opts {
		o = f(o)
	}
	s, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	spec, err := store.ParseSpec([]byte(allTypesSpec))
	if err != nil {
		t.Fatalf("parse spec: %v", err)
	}
	if err := s.ApplySpec(spec); err != nil {
		t.Fatalf("apply spec: %v", err)
	}
	return s
}

func fixedClock(t time.Time) func(store.Options) store.Options {
	return func(o store.Options) store.Options { return o.WithClock(func() time.Time { return t }) }
}

// sampleValues has a value of every type of the profile view.
func sampleValues() map[string]any {
	return map[string]any{
		"active":    true,
		"age":       int64(41),
		"income":    52000.5,
		"email":     "a@example.com",
		"avatar":    []byte{0, 1, 2, 255},
		"signup":    time.Date(2024, 2, 29, 12, 30, 0, 123456789, time.UTC),
		"embedding": []float32{0.25, -1.5, 3},
		"score":     nil,
	}
}
