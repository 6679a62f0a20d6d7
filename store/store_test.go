package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurevault/featurevault/store"
)

func TestWriteReadRoundTripEveryTypeAndAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	s := openStore(t, dir)
	want := sampleValues()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Write(ctx, "profile", []store.Row{{EntityKey: "c-42", EventTime: at, Values: want}}); err != nil {
		t.Fatalf("write: %v", err)
	}
	check := func(s *store.Store, when string) {
		t.Helper()
		res, err := s.GetOnline(ctx, "profile", []string{"c-42"}, nil)
		if err != nil {
			t.Fatalf("%s: read: %v", when, err)
		}
		row := res.Rows[0]
		if !row.EventTime.Equal(at) {
			t.Errorf("%s: event time = %v, want %v", when, row.EventTime, at)
		}
		for i, name := range res.Features {
			wantStatus := store.Present
			if want[name] == nil {
				wantStatus = store.Null
			}
			if row.Statuses[i] != wantStatus {
				t.Errorf("%s: %s status = %v, want %v", when, name, row.Statuses[i], wantStatus)
			}
			if !reflect.DeepEqual(row.Values[i], want[name]) {
				t.Errorf("%s: %s = %#v, want %#v", when, name, row.Values[i], want[name])
			}
		}
	}
	check(s, "before reopen")
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s2 := openStore(t, dir)
	defer s2.Close()
	check(s2, "after reopen")
}

func TestGetOnlinePicksLatestRowAndStatuses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	s := openStore(t, t.TempDir(), fixedClock(now))
	defer s.Close()
	ctx := t.Context()
	rows := []store.Row{
		{EntityKey: "7", EventTime: now.Add(-30 * time.Minute), Values: map[string]any{"bid": 1.0, "ask": 2.0}},
		{EntityKey: "7", EventTime: now.Add(-10 * time.Minute), Values: map[string]any{"bid": 1.5}},
		{EntityKey: "7", EventTime: now.Add(-50 * time.Minute), Values: map[string]any{"bid": 0.5, "ask": 0.6}},
		{EntityKey: "8", EventTime: now.Add(-2 * time.Hour), Values: map[string]any{"bid": 9.0}},
		{EntityKey: "-3", EventTime: time.Unix(-5, 0), Values: map[string]any{"bid": 3.0}},
		{EntityKey: "-3", EventTime: time.Unix(-9, 0), Values: map[string]any{"bid": 4.0}},
	}
	if _, err := s.Write(ctx, "quotes", rows); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := s.GetOnline(ctx, "quotes", []string{"7", "8", "9", "007"}, []string{"ask", "bid"})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	type cell struct {
		v  any
		st store.Status
	}
	got := [][]cell{}
	for _, r := range res.Rows {
		var c []cell
		for i := range r.Values {
			c = append(c, cell{r.Values[i], r.Statuses[i]})
		}
		got = append(got, c)
	}
	want := [][]cell{
		{{nil, store.Null}, {1.5, store.Present}},      // latest row only; ask not in it
		{{nil, store.Expired}, {nil, store.Expired}},   // older than the 1h TTL
		{{nil, store.NotFound}, {nil, store.NotFound}}, // never written
		{{nil, store.Null}, {1.5, store.Present}},      // "007" is int64 7
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("online rows = %v, want %v", got, want)
	}
	if res.Rows[3].EntityKey != "007" {
		t.Errorf("entity key echoed as %q, want the caller's %q", res.Rows[3].EntityKey, "007")
	}
	// Times before 1970 order correctly too (TTL aside: view quotes has 1h, so use the no-TTL check via event time).
	res, err = s.GetOnline(ctx, "quotes", []string{"-3"}, []string{"bid"})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if got := res.Rows[0].EventTime; !got.Equal(time.Unix(-5, 0)) {
		t.Errorf("latest pre-1970 row at %v, want %v", got, time.Unix(-5, 0))
	}
}

// TestNoPlaintextOnDisk writes marker values and entity keys, closes
// everything and scans every byte of the data directory, keystore included.
func TestNoPlaintextOnDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	const (
		keyMarker   = "ENTITYKEYMARKER-7f3a9c"
		emailMarker = "EMAILMARKER-b41d2e@example.com"
		intMarker   = int64(0x5EC12E7C0FFEE)
		floatMarker = 8675309.0625
	)
	avatar := []byte("BYTESMARKER-1e9d0c")
	ctx := t.Context()
	var rows []store.Row
	for i := range 200 {
		rows = append(rows, store.Row{
			EntityKey: fmt.Sprintf("%s-%d", keyMarker, i%20),
			EventTime: time.Unix(int64(1_700_000_000+i), 0),
			Values: map[string]any{
				"email": emailMarker, "age": intMarker, "income": floatMarker,
				"avatar": avatar, "embedding": []float32{3.14159, 2.71828},
			},
		})
	}
	if _, err := s.Write(ctx, "profile", rows); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	markers := map[string][]byte{
		"entity key": []byte(keyMarker),
		"email":      []byte(emailMarker),
		"bytes":      avatar,
		"int64 BE":   be64(uint64(intMarker)),
		"int64 LE":   le64(uint64(intMarker)),
		"int64 text": []byte(fmt.Sprint(intMarker)),
		"float BE":   be64(math.Float64bits(floatMarker)),
		"float LE":   le64(math.Float64bits(floatMarker)),
		"float text": []byte("8675309.0625"),
		"list":       be32(math.Float32bits(3.14159)),
	}
	scanned := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned += len(b)
		for name, m := range markers {
			if bytes.Contains(b, m) {
				t.Errorf("%s marker found in %s", name, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 10_000 {
		t.Fatalf("scanned only %d bytes: the data did not reach disk, so the test proves nothing", scanned)
	}
}

func TestWriteRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	good := store.Row{EntityKey: "c-1", Values: map[string]any{"age": int64(1)}}
	if _, err := s.Write(ctx, "profile", []store.Row{good}); err != nil {
		t.Fatalf("seed write: %v", err)
	}
	tests := []struct {
		name string
		view string
		row  store.Row
		kind error
		msg  string
	}{
		{"unknown view", "nope", good, store.ErrNotFound, `view "nope"`},
		{"unknown field", "profile", store.Row{EntityKey: "c-2", Values: map[string]any{"height": 1.0}}, store.ErrNotFound, `no field "height"`},
		{"wrong type", "profile", store.Row{EntityKey: "c-2", Values: map[string]any{"age": "forty"}}, store.ErrInvalid, `field "age" is int64, got a string`},
		{"NaN refused", "profile", store.Row{EntityKey: "c-2", Values: map[string]any{"income": math.NaN()}}, store.ErrInvalid, "refuses NaN"},
		{"Inf refused", "profile", store.Row{EntityKey: "c-2", Values: map[string]any{"income": math.Inf(1)}}, store.ErrInvalid, "refuses NaN"},
		{"NaN in list", "profile", store.Row{EntityKey: "c-2", Values: map[string]any{"embedding": []float32{float32(math.NaN())}}}, store.ErrInvalid, "refuses NaN"},
		{"invalid UTF-8 key", "profile", store.Row{EntityKey: "c-\xff", Values: map[string]any{"age": int64(1)}}, store.ErrInvalid, "UTF-8"},
		{"empty key", "profile", store.Row{EntityKey: "", Values: map[string]any{"age": int64(1)}}, store.ErrInvalid, "row 1: entity \"customer\" key is empty"},
		{"invalid UTF-8 string", "profile", store.Row{EntityKey: "c-2", Values: map[string]any{"email": "a\xffb"}}, store.ErrInvalid, "UTF-8"},
		{"int64 key not a number", "quotes", store.Row{EntityKey: "abc", Values: map[string]any{"bid": 1.0}}, store.ErrInvalid, "row 0"},
		{"oversize string", "profile", store.Row{EntityKey: "c-2", Values: map[string]any{"email": strings.Repeat("x", store.MaxValueBytes+1)}}, store.ErrInvalid, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The bad row comes second: the good first row must not be stored either.
			first := store.Row{EntityKey: "c-3", Values: map[string]any{"age": int64(3)}}
			_, err := s.Write(ctx, tc.view, []store.Row{first, tc.row})
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error = %v, want kind %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			res, err := s.GetOnline(ctx, "profile", []string{"c-3", "c-2"}, []string{"age"})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Rows {
				if r.Statuses[0] != store.NotFound {
					t.Errorf("after a refused write, %s has status %v, want NOT_FOUND", r.EntityKey, r.Statuses[0])
				}
			}
		})
	}
}

func TestErrorsNeverEchoKeysOrValues(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	const secret = "SECRET-VALUE-91"
	_, err := s.Write(t.Context(), "profile", []store.Row{{EntityKey: secret + "\xff", Values: map[string]any{"age": secret}}})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error %v: want an error that does not contain the key or value", err)
	}
	_, err = s.Write(t.Context(), "profile", []store.Row{{EntityKey: "ok", Values: map[string]any{"age": secret}}})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error %v: want an error that does not contain the value", err)
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	const writers, perWriter = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				// Writers share subjects, so new-subject key creation races too.
				row := store.Row{EntityKey: fmt.Sprintf("c-%d", i%10), EventTime: time.Unix(int64(w*perWriter+i), 0), Values: map[string]any{"age": int64(w*perWriter + i)}}
				if _, err := s.Write(ctx, "profile", []store.Row{row}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range perWriter {
				res, err := s.GetOnline(ctx, "profile", []string{"c-1", "c-2", "c-3"}, []string{"age"})
				if err != nil {
					errs <- err
					return
				}
				for _, r := range res.Rows {
					if r.Statuses[0] == store.Present && r.Values[0].(int64) != r.EventTime.Unix() {
						errs <- fmt.Errorf("row at %v holds age %v", r.EventTime, r.Values[0])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every subject's latest row is the one with the greatest event time.
	res, err := s.GetOnline(ctx, "profile", []string{"c-9"}, []string{"age"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Rows[0].Values[0], int64((writers-1)*perWriter+49); got != want {
		t.Errorf("latest age of c-9 = %v, want %v", got, want)
	}
}

func be64(u uint64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[i] = byte(u >> (56 - 8*i))
	}
	return b
}

func le64(u uint64) []byte {
	b := be64(u)
	for i, j := 0, 7; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return b
}

func be32(u uint32) []byte { return []byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)} }
