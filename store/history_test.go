package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/store"
)

// pitSpec has three views of one entity with different TTLs: none, 2h and
// 30m.
const pitSpec = `
entities:
  - {name: user, join_key: user_id, type: string}
feature_views:
  - name: profile
    entity: user
    fields: [{name: age, type: int64}]
  - name: txn
    entity: user
    ttl: 2h
    fields: [{name: amount, type: float64}, {name: note, type: string}]
  - name: risk
    entity: user
    ttl: 30m
    fields: [{name: score, type: float64}]
`

// pitStore holds, for user u1 (all written at 12:00 unless noted):
//
//	profile: age 30 @ 08:00, age 31 @ 11:00
//	txn:     10.0 @ 10:00, 11.0 @ 11:00, 12.0 @ 12:00,
//	         11.5 @ 11:30 backfilled: written at 14:00
//	risk:    0.1 @ 10:00, 0.2 @ 11:00
//
// and for u2: txn 99.0 @ 09:00 (note NULL). u3 is never written.
func pitStore(t *testing.T) (s *store.Store, h func(hh, mm int) time.Time, cutoff time.Time) {
	t.Helper()
	h = func(hh, mm int) time.Time { return time.Date(2026, 6, 1, hh, mm, 0, 0, time.UTC) }
	clk := newClock(h(12, 0))
	s, err := store.Open(t.Context(), store.DefaultOptions(t.TempDir()).WithLogger(quietLog).WithSyncWrites(false).WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	spec, err := store.ParseSpec([]byte(pitSpec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySpec(spec); err != nil {
		t.Fatal(err)
	}
	write := func(view string, rows ...store.Row) {
		t.Helper()
		if _, err := s.Write(t.Context(), view, rows); err != nil {
			t.Fatal(err)
		}
	}
	r := func(key string, at time.Time, vals map[string]any) store.Row {
		return store.Row{EntityKey: key, EventTime: at, Values: vals}
	}
	write("profile", r("u1", h(8, 0), map[string]any{"age": int64(30)}), r("u1", h(11, 0), map[string]any{"age": int64(31)}))
	write("txn",
		r("u1", h(10, 0), map[string]any{"amount": 10.0, "note": "a"}),
		r("u1", h(11, 0), map[string]any{"amount": 11.0, "note": "b"}),
		r("u1", h(12, 0), map[string]any{"amount": 12.0, "note": "c"}),
		r("u2", h(9, 0), map[string]any{"amount": 99.0}))
	write("risk", r("u1", h(10, 0), map[string]any{"score": 0.1}), r("u1", h(11, 0), map[string]any{"score": 0.2}))
	cutoff = h(13, 0)
	clk.set(h(14, 0))
	write("txn", r("u1", h(11, 30), map[string]any{"amount": 11.5, "note": "late"}))
	return s, h, cutoff
}

// TestGetHistoricalIsPointInTimeCorrect is the label-leakage table: for
// each entity row, the answer is the latest row at or before its
// timestamp, within each view's TTL, and never a row from its future.
func TestGetHistoricalIsPointInTimeCorrect(t *testing.T) {
	t.Parallel()
	s, h, cutoff := pitStore(t)
	type lookup struct {
		key string
		at  time.Time
	}
	// found(v) is a hit with first-field value v; miss is Found false.
	type answer struct {
		found bool
		v     any
		at    time.Time
	}
	found := func(v any, at time.Time) answer { return answer{true, v, at} }
	miss := answer{}
	tests := []struct {
		name   string
		view   string
		o      store.HistoricalOptions
		rows   []lookup
		answer []answer
	}{
		{"future rows never leak", "txn", store.HistoricalOptions{},
			[]lookup{{"u1", h(10, 59)}, {"u1", h(9, 59)}},
			[]answer{found(10.0, h(10, 0)), miss}},
		{"a row exactly at the timestamp counts", "txn", store.HistoricalOptions{},
			[]lookup{{"u1", h(11, 0)}, {"u1", h(12, 0)}},
			[]answer{found(11.0, h(11, 0)), found(12.0, h(12, 0))}},
		{"the TTL bounds how old a row may be, inclusively", "txn", store.HistoricalOptions{},
			[]lookup{{"u2", h(11, 0)}, {"u2", h(11, 0).Add(time.Nanosecond)}, {"u1", h(14, 0)}, {"u1", h(14, 1)}},
			[]answer{found(99.0, h(9, 0)), miss, found(12.0, h(12, 0)), miss}},
		{"no TTL: any age", "profile", store.HistoricalOptions{},
			[]lookup{{"u1", h(10, 0)}, {"u1", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}},
			[]answer{found(int64(30), h(8, 0)), found(int64(31), h(11, 0))}},
		{"a short TTL expires sooner", "risk", store.HistoricalOptions{},
			[]lookup{{"u1", h(10, 30)}, {"u1", h(10, 31)}, {"u1", h(11, 29)}, {"u1", h(12, 0)}},
			[]answer{found(0.1, h(10, 0)), miss, found(0.2, h(11, 0)), miss}},
		{"missing entities and views without their rows", "txn", store.HistoricalOptions{},
			[]lookup{{"u3", h(12, 0)}, {"u2", h(8, 0)}},
			[]answer{miss, miss}},
		{"duplicates and any order", "txn", store.HistoricalOptions{},
			[]lookup{{"u1", h(12, 30)}, {"u2", h(9, 30)}, {"u1", h(10, 30)}, {"u1", h(12, 30)}, {"u1", h(10, 45)}},
			[]answer{found(12.0, h(12, 0)), found(99.0, h(9, 0)), found(10.0, h(10, 0)), found(12.0, h(12, 0)), found(10.0, h(10, 0))}},
		{"a backfilled row answers without a cutoff", "txn", store.HistoricalOptions{},
			[]lookup{{"u1", h(11, 45)}},
			[]answer{found(11.5, h(11, 30))}},
		{"a created-time cutoff hides the backfilled row", "txn", store.HistoricalOptions{CreatedCutoff: cutoff},
			[]lookup{{"u1", h(11, 45)}, {"u1", h(11, 30)}, {"u1", h(12, 15)}},
			[]answer{found(11.0, h(11, 0)), found(11.0, h(11, 0)), found(12.0, h(12, 0))}},
		{"a cutoff before every write finds nothing", "txn", store.HistoricalOptions{CreatedCutoff: h(11, 0)},
			[]lookup{{"u1", h(12, 0)}},
			[]answer{miss}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys := make([]string, len(tc.rows))
			at := make([]time.Time, len(tc.rows))
			for i, r := range tc.rows {
				keys[i], at[i] = r.key, r.at
			}
			b, err := s.GetHistorical(t.Context(), tc.view, keys, at, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if b.Len() != len(tc.rows) {
				t.Fatalf("%d answers for %d entity rows", b.Len(), len(tc.rows))
			}
			for i, want := range tc.answer {
				got := answer{found: b.Found(i)}
				if got.found {
					got.v, got.at = b.Value(i, 0), b.EventTime(i)
				} else {
					for j := range b.Fields() {
						if !b.IsNull(i, j) {
							t.Errorf("row %d not found but field %d is not NULL", i, j)
						}
					}
				}
				if got != want {
					t.Errorf("row %d (%s at %s): got %+v, want %+v", i, tc.rows[i].key, tc.rows[i].at.Format(time.TimeOnly), got, want)
				}
				if b.EntityKey(i) != tc.rows[i].key {
					t.Errorf("row %d: entity key %q, want %q", i, b.EntityKey(i), tc.rows[i].key)
				}
			}
		})
	}
}

// TestGetHistoricalJoinsSeveralViews checks one entity frame against three
// views, each with its own TTL, the way a training set is assembled.
func TestGetHistoricalJoinsSeveralViews(t *testing.T) {
	t.Parallel()
	s, h, _ := pitStore(t)
	keys := []string{"u1", "u1", "u2"}
	at := []time.Time{h(10, 15), h(11, 40), h(10, 0)}
	want := map[string][]any{
		"profile": {int64(30), int64(31), nil},
		"txn":     {10.0, 11.5, 99.0},
		"risk":    {0.1, nil, nil}, // 11:40 is 40m after risk's 11:00 row: past its 30m TTL
	}
	for view, w := range want {
		b, err := s.GetHistorical(context.Background(), view, keys, at, store.HistoricalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []any
		for i := range b.Len() {
			got = append(got, b.Value(i, 0))
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %v, want %v", view, got, w)
		}
	}
}

func TestGetHistoricalSelectsFeaturesAndNulls(t *testing.T) {
	t.Parallel()
	s, h, _ := pitStore(t)
	b, err := s.GetHistorical(t.Context(), "txn", []string{"u2", "u1"}, []time.Time{h(9, 0), h(10, 0)}, store.HistoricalOptions{Features: []string{"note"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Fields()) != 1 || b.Fields()[0].Name != "note" {
		t.Fatalf("fields = %v, want [note]", b.Fields())
	}
	if !b.Found(0) || !b.IsNull(0, 0) {
		t.Errorf("u2: found %v, null %v; want a found row with a NULL note", b.Found(0), b.IsNull(0, 0))
	}
	if got := string(b.Bytes(1, 0)); got != "a" {
		t.Errorf("u1 note = %q, want %q", got, "a")
	}
}

func TestGetHistoricalRefusesBadInput(t *testing.T) {
	t.Parallel()
	s, h, _ := pitStore(t)
	tests := []struct {
		name string
		view string
		keys []string
		at   []time.Time
		o    store.HistoricalOptions
		kind error
		msg  string
	}{
		{"unknown view", "nope", nil, nil, store.HistoricalOptions{}, store.ErrNotFound, `view "nope"`},
		{"unknown feature", "txn", nil, nil, store.HistoricalOptions{Features: []string{"x"}}, store.ErrNotFound, `no field "x"`},
		{"length mismatch", "txn", []string{"u1"}, nil, store.HistoricalOptions{}, store.ErrInvalid, "one timestamp per entity row"},
		{"empty key", "txn", []string{"u1", ""}, []time.Time{h(1, 0), h(1, 0)}, store.HistoricalOptions{}, store.ErrInvalid, "entity row 1"},
		{"zero timestamp", "txn", []string{"u1"}, []time.Time{{}}, store.HistoricalOptions{}, store.ErrInvalid, "entity row 0: timestamp is missing"},
	}
	for _, tc := range tests {
		_, err := s.GetHistorical(t.Context(), tc.view, tc.keys, tc.at, tc.o)
		if !errors.Is(err, tc.kind) || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %v saying %q", tc.name, err, tc.kind, tc.msg)
		}
	}
}

// TestGetHistoricalManyLookupsMatchOneByOne compares a large batch of
// lookups, answered in one sorted pass, with the same lookups made one at
// a time.
func TestGetHistoricalManyLookupsMatchOneByOne(t *testing.T) {
	t.Parallel()
	s, h, _ := pitStore(t)
	var keys []string
	var at []time.Time
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("u%d", 1+i%3))
		at = append(at, h(8, 0).Add(time.Duration(i*97%360)*time.Minute))
	}
	all, err := s.GetHistorical(t.Context(), "txn", keys, at, store.HistoricalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		one, err := s.GetHistorical(t.Context(), "txn", keys[i:i+1], at[i:i+1], store.HistoricalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if all.Found(i) != one.Found(0) || !reflect.DeepEqual(all.Value(i, 0), one.Value(0, 0)) || !reflect.DeepEqual(all.Value(i, 1), one.Value(0, 1)) {
			t.Errorf("lookup %d (%s at %s): batch says %v %v, alone %v %v", i, keys[i], at[i].Format(time.TimeOnly), all.Found(i), all.Value(i, 0), one.Found(0), one.Value(0, 0))
		}
	}
}
