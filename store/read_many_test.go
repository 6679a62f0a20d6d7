package store_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// TestGetOnlineOfManyEntitiesAnswersEachInItsPlace reads 130 entity keys
// with four cores, so the read is split into parts that seek and decrypt
// on their own goroutines: present, never-written, erased and repeated
// subjects, in an order unrelated to the store's, each get their own
// values and statuses in the place they were asked for.
func TestGetOnlineOfManyEntitiesAnswersEachInItsPlace(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	s := openStore(t, t.TempDir())
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []store.Row
	for i := range 100 {
		rows = append(rows, store.Row{EntityKey: fmt.Sprintf("c%d", i), EventTime: at, Values: map[string]any{"age": int64(i), "email": fmt.Sprintf("c%d@example.com", i)}})
	}
	if _, err := s.Write(t.Context(), "profile", rows); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Erase(t.Context(), "customer", []string{"c7", "c70"}, store.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	var asked []string
	for k := range 130 {
		asked = append(asked, fmt.Sprintf("c%d", (k*37)%130)) // c100..c129 were never written
	}
	asked = append(asked, "c5", "c7", "c5")
	res, err := s.GetOnline(t.Context(), "profile", asked, []string{"email", "age"})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Rows {
		var n int
		fmt.Sscanf(asked[i], "c%d", &n)
		if r.EntityKey != asked[i] {
			t.Fatalf("row %d is %s, want %s", i, r.EntityKey, asked[i])
		}
		if n >= 100 || n == 7 || n == 70 {
			if r.Statuses[0] != store.NotFound || r.Statuses[1] != store.NotFound {
				t.Errorf("row %d (%s): statuses %v, want NOT_FOUND", i, asked[i], r.Statuses)
			}
			continue
		}
		if r.Values[0] != fmt.Sprintf("c%d@example.com", n) || r.Values[1] != int64(n) || !r.EventTime.Equal(at) {
			t.Errorf("row %d (%s): %v at %v, want its own values", i, asked[i], r.Values, r.EventTime)
		}
	}
}

// TestGetOnlineOfManyEntitiesFailsOnOneTamperedRow swaps one field's
// ciphertext between the rows of two subjects that sort last, so the
// damage sits in a part of the read other than the caller's: the whole
// read fails with the authentication error and returns nothing.
func TestGetOnlineOfManyEntitiesFailsOnOneTamperedRow(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	dir := t.TempDir()
	s := openStore(t, dir)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var asked []string
	var rows []store.Row
	for i := range 64 {
		asked = append(asked, fmt.Sprintf("c%d", i))
		rows = append(rows, store.Row{EntityKey: asked[i], EventTime: at, Values: map[string]any{"age": int64(i)}})
	}
	if _, err := s.Write(t.Context(), "profile", rows); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := kv.OpenBadger(kv.DefaultOptions(dir + "/data"))
	if err != nil {
		t.Fatal(err)
	}
	var last []kv.Entry
	if err := db.Scan([]byte{store.RowKeyTag}, func(e kv.Entry) error {
		last = append(last, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a, b := last[len(last)-2], last[len(last)-1]
	sa, sb := slotsOf(t, a.Value), slotsOf(t, b.Value)
	sa[1], sb[1] = sb[1], sa[1] // age
	if err := db.Apply([]kv.Op{{Key: a.Key, Value: reencode(t, a.Value, sa)}, {Key: b.Key, Value: reencode(t, b.Value, sb)}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = openStore(t, dir)
	defer s.Close()
	res, err := s.GetOnline(t.Context(), "profile", asked, nil)
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), `field "age"`) || res != nil {
		t.Fatalf("read = %v, %v; want no result and an authentication error naming field age", res, err)
	}
}
