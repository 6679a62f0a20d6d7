package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// clock is a settable clock for created times.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) opt() func(store.Options) store.Options {
	return func(o store.Options) store.Options { return o.WithClock(c.now) }
}

// scanned is one row as a scan returned it, values boxed for comparison.
type scanned struct {
	Key    string
	At     time.Time
	Values map[string]any
}

func (r scanned) String() string {
	return fmt.Sprintf("%s@%s%v", r.Key, r.At.Format(time.TimeOnly), r.Values)
}

// scanAll drains a scan into rows sorted by key then time, and returns the
// number of batches it took.
func scanAll(t *testing.T, s *store.Store, view string, o store.ScanOptions) ([]scanned, int, error) {
	t.Helper()
	sc, err := s.Scan(t.Context(), view, o)
	if err != nil {
		return nil, 0, err
	}
	defer sc.Close()
	var out []scanned
	batches := 0
	for sc.Next() {
		b := sc.Batch()
		batches++
		if o.BatchRows > 0 && b.Len() > o.BatchRows {
			t.Errorf("batch of %d rows, want at most %d", b.Len(), o.BatchRows)
		}
		for i := range b.Len() {
			r := scanned{Key: b.EntityKey(i), At: b.EventTime(i), Values: map[string]any{}}
			for j, f := range b.Fields() {
				if v := b.Value(i, j); v != nil {
					r.Values[f.Name] = v
				}
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b scanned) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.At.Compare(b.At))
	})
	return out, batches, sc.Err()
}

func TestScanReturnsEveryRowWithItsRawKeyAcrossBatches(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var want []scanned
	var rows []store.Row
	for e := range 7 {
		for k := range 3 {
			vals := sampleValues()
			vals["age"] = int64(e*10 + k)
			vals["email"] = fmt.Sprintf("u%d@example.com", e)
			vals["avatar"] = []byte{}          // empty but present
			vals["embedding"] = []float32(nil) // typed nil: an empty list
			r := store.Row{EntityKey: fmt.Sprintf("c-%d", e), EventTime: at.Add(time.Duration(k) * time.Hour), Values: vals}
			rows = append(rows, r)
			w := scanned{Key: r.EntityKey, At: r.EventTime, Values: map[string]any{}}
			for name, v := range vals {
				if v != nil {
					w.Values[name] = v
				}
			}
			w.Values["embedding"] = []float32{}
			want = append(want, w)
		}
	}
	if _, err := s.Write(t.Context(), "profile", rows); err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 4, 21, 1000} {
		got, batches, err := scanAll(t, s, "profile", store.ScanOptions{BatchRows: batch})
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("batch %d: scan returned\n%v\nwant\n%v", batch, got, want)
		}
		if wantBatches := (len(want) + batch - 1) / batch; batches != wantBatches {
			t.Errorf("batch %d: %d batches, want %d", batch, batches, wantBatches)
		}
	}
}

func TestScanFilters(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	s := openStore(t, t.TempDir(), clk.opt())
	t.Cleanup(func() { s.Close() })
	// quotes: int64-keyed, TTL 1h. Entity 1 has rows at 10:00, 10:30, 11:00;
	// entity 2 at 09:00 only; entity 3 at 10:45, backfilled (written late).
	h := func(hh, mm int) time.Time { return time.Date(2026, 5, 1, hh, mm, 0, 0, time.UTC) }
	write := func(key string, at time.Time, bid float64) {
		t.Helper()
		if _, err := s.Write(t.Context(), "quotes", []store.Row{{EntityKey: key, EventTime: at, Values: map[string]any{"bid": bid, "ask": bid + 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	clk.set(h(12, 0))
	write("1", h(10, 0), 1.0)
	write("1", h(10, 30), 1.5)
	write("1", h(11, 0), 2.0)
	write("2", h(9, 0), 9.0)
	write("3", h(10, 0), 3.0)
	cutoff := h(12, 30)
	clk.set(h(13, 0))
	write("3", h(10, 45), 3.5) // late

	row := func(key string, at time.Time, bid float64) scanned {
		return scanned{Key: key, At: at, Values: map[string]any{"bid": bid}}
	}
	tests := []struct {
		name string
		o    store.ScanOptions
		want []scanned
	}{
		{"range [10:00, 11:00)", store.ScanOptions{Start: h(10, 0), End: h(11, 0)},
			[]scanned{row("1", h(10, 0), 1), row("1", h(10, 30), 1.5), row("3", h(10, 0), 3), row("3", h(10, 45), 3.5)}},
		{"open start", store.ScanOptions{End: h(10, 0)}, []scanned{row("2", h(9, 0), 9)}},
		{"open end", store.ScanOptions{Start: h(10, 45)}, []scanned{row("1", h(11, 0), 2), row("3", h(10, 45), 3.5)}},
		{"as of 10:40: latest per entity within the 1h TTL", store.ScanOptions{AsOf: h(10, 40)},
			[]scanned{row("1", h(10, 30), 1.5), row("3", h(10, 0), 3)}}, // 2's 09:00 row is 1h40 old
		{"as of exactly an event time includes it", store.ScanOptions{AsOf: h(11, 0)},
			[]scanned{row("1", h(11, 0), 2), row("3", h(10, 45), 3.5)}},
		{"as of exactly the TTL after a row includes it", store.ScanOptions{AsOf: h(10, 0)},
			[]scanned{row("1", h(10, 0), 1), row("2", h(9, 0), 9), row("3", h(10, 0), 3)}},
		{"as of before every row", store.ScanOptions{AsOf: h(8, 0)}, nil},
		{"as of with a start bound", store.ScanOptions{AsOf: h(10, 40), Start: h(10, 15)},
			[]scanned{row("1", h(10, 30), 1.5)}},
		{"created cutoff hides the backfilled row", store.ScanOptions{CreatedCutoff: cutoff},
			[]scanned{row("1", h(10, 0), 1), row("1", h(10, 30), 1.5), row("1", h(11, 0), 2), row("2", h(9, 0), 9), row("3", h(10, 0), 3)}},
		{"as of with cutoff falls back to the older row", store.ScanOptions{AsOf: h(10, 50), CreatedCutoff: cutoff},
			[]scanned{row("1", h(10, 30), 1.5), row("3", h(10, 0), 3)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, batch := range []int{1, 2, 100} {
				o := tc.o
				o.Features = []string{"bid"}
				o.BatchRows = batch
				got, _, err := scanAll(t, s, "quotes", o)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("batch %d: got %v, want %v", batch, got, tc.want)
				}
			}
		})
	}
}

func TestScanRefusesBadOptions(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		view string
		o    store.ScanOptions
		kind error
		msg  string
	}{
		{"unknown view", "nope", store.ScanOptions{}, store.ErrNotFound, `view "nope" does not exist`},
		{"unknown feature", "profile", store.ScanOptions{Features: []string{"height"}}, store.ErrNotFound, `no field "height"`},
		{"end before start", "profile", store.ScanOptions{Start: at, End: at}, store.ErrInvalid, "end time must be after start"},
		{"as-of with end", "profile", store.ScanOptions{AsOf: at, End: at}, store.ErrInvalid, "cannot be combined"},
		{"batch too large", "profile", store.ScanOptions{BatchRows: store.MaxBatchRows + 1}, store.ErrInvalid, "use 1 to"},
		{"time out of range", "profile", store.ScanOptions{Start: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}, store.ErrInvalid, "outside 1677"},
	}
	for _, tc := range tests {
		_, err := s.Scan(t.Context(), tc.view, tc.o)
		if !errors.Is(err, tc.kind) || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %v saying %q", tc.name, err, tc.kind, tc.msg)
		}
	}
}

func TestScanSkipsErasedSubjects(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []store.Row
	for _, k := range []string{"a", "b", "c"} {
		rows = append(rows, store.Row{EntityKey: k, EventTime: at, Values: map[string]any{"age": int64(1)}})
	}
	if _, err := s.Write(t.Context(), "profile", rows); err != nil {
		t.Fatal(err)
	}
	bi, err := s.Keyring().BlindIndex("customer", "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Keyring().ForgetSubject("customer", bi); err != nil {
		t.Fatal(err)
	}
	sc, err := s.Scan(t.Context(), "profile", store.ScanOptions{BatchRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var keys []string
	for sc.Next() {
		for i := range sc.Batch().Len() {
			keys = append(keys, sc.Batch().EntityKey(i))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"a", "c"}) || sc.Skipped() != 1 {
		t.Errorf("scan after erasing b returned %v and skipped %d; want [a c] and 1 skipped", keys, sc.Skipped())
	}
}

// TestScanAndHistoryCatchTampering edits stored bytes as someone with disk
// access could and checks that scans and point-in-time lookups refuse to
// answer rather than return a wrong value or entity key.
func TestScanAndHistoryCatchTampering(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
	}{
		{"ciphertext bit flipped", func(t *testing.T, dir string) {
			editRows(t, dir, t1, func(t *testing.T, rows map[string][]byte) {
				slots := slotsOf(t, rows["a@1"])
				slots[1][len(slots[1])-1] ^= 1
				rows["a@1"] = reencode(t, rows["a@1"], slots)
			})
		}},
		{"value moved to another subject", func(t *testing.T, dir string) {
			editRows(t, dir, t1, func(t *testing.T, rows map[string][]byte) {
				from, to := slotsOf(t, rows["a@1"]), slotsOf(t, rows["b@1"])
				to[1] = from[1]
				rows["b@1"] = reencode(t, rows["b@1"], to)
			})
		}},
		{"subject records swapped", func(t *testing.T, dir string) {
			db, err := kv.OpenBadger(kv.DefaultOptions(filepath.Join(dir, "data")))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var recs []kv.Entry
			if err := db.Scan([]byte("s"), func(e kv.Entry) error { recs = append(recs, e); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2 {
				t.Fatalf("%d subject records, want 2", len(recs))
			}
			if err := db.Apply([]kv.Op{{Key: recs[0].Key, Value: recs[1].Value}, {Key: recs[1].Key, Value: recs[0].Value}}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			var rows []store.Row
			for _, e := range []string{"a", "b"} {
				for i, at := range []time.Time{t1, t1.Add(time.Hour)} {
					rows = append(rows, store.Row{EntityKey: e, EventTime: at, Values: map[string]any{"age": int64(10 + i)}})
				}
			}
			if _, err := s.Write(t.Context(), "profile", rows); err != nil {
				t.Fatal(err)
			}
			s.Close()
			tc.tamper(t, dir)
			s = openStore(t, dir)
			defer s.Close()
			_, _, err := scanAll(t, s, "profile", store.ScanOptions{Features: []string{"age"}})
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "failed authentication") {
				t.Errorf("scan error = %v; want store.ErrCorrupt saying it failed authentication", err)
			}
			if strings.Contains(tc.name, "subject records") {
				return // point-in-time lookups take keys from the caller, not from records
			}
			b, err := s.GetHistorical(context.Background(), "profile", []string{"a", "b"}, []time.Time{t1, t1}, store.HistoricalOptions{Features: []string{"age"}})
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("historical lookup error = %v (batch %v); want store.ErrCorrupt", err, b)
			}
		})
	}
}

func TestScanSkipEntityKeysGivesSubjectsOnly(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []store.Row{{EntityKey: "a", EventTime: at, Values: map[string]any{"age": int64(1)}}, {EntityKey: "a", EventTime: at.Add(time.Hour)}}
	if _, err := s.Write(t.Context(), "profile", rows); err != nil {
		t.Fatal(err)
	}
	want, err := s.Keyring().BlindIndex("customer", "a")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.Scan(t.Context(), "profile", store.ScanOptions{SkipEntityKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	n := 0
	for sc.Next() {
		b := sc.Batch()
		for i := range b.Len() {
			n++
			if b.EntityKey(i) != "" || b.Subject(i) != want {
				t.Errorf("row %d: key %q, subject %s; want no key and subject %s", i, b.EntityKey(i), b.Subject(i), want)
			}
		}
	}
	if sc.Err() != nil || n != 2 {
		t.Errorf("%d rows, err %v; want 2", n, sc.Err())
	}
}
