package store_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// TestTamperedCiphertextNeverDecrypts edits stored rows the way someone
// with access to the disk could, and checks each edit is caught: the read
// fails with a clear error and never returns a wrong value.
func TestTamperedCiphertextNeverDecrypts(t *testing.T) {
	t.Parallel()
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	// Field positions in the profile view: age = 1, score = 7 (both int64).
	// Online reads see the newest row (@2), so edits that must be caught
	// land there.
	const age, score = 1, 7
	tests := []struct {
		name   string
		tamper func(t *testing.T, rows map[string][]byte) // rows by "entity@time"
	}{
		{"one bit flipped", func(t *testing.T, rows map[string][]byte) {
			slots := slotsOf(t, rows["a@2"])
			slots[age][len(slots[age])-1] ^= 1
			rows["a@2"] = reencode(t, rows["a@2"], slots)
		}},
		{"moved to another field of the same type", func(t *testing.T, rows map[string][]byte) {
			slots := slotsOf(t, rows["a@2"])
			slots[age], slots[score] = slots[score], slots[age]
			rows["a@2"] = reencode(t, rows["a@2"], slots)
		}},
		{"moved to another row of the same subject", func(t *testing.T, rows map[string][]byte) {
			older, newer := slotsOf(t, rows["a@1"]), slotsOf(t, rows["a@2"])
			newer[age] = older[age]
			rows["a@2"] = reencode(t, rows["a@2"], newer)
		}},
		{"whole row moved to another event time", func(t *testing.T, rows map[string][]byte) {
			rows["a@2"] = rows["a@1"]
		}},
		{"moved to another subject", func(t *testing.T, rows map[string][]byte) {
			from, to := slotsOf(t, rows["a@2"]), slotsOf(t, rows["b@2"])
			to[age] = from[age]
			rows["b@2"] = reencode(t, rows["b@2"], to)
		}},
		{"schema version changed", func(t *testing.T, rows map[string][]byte) {
			slots, _, created, err := store.RowSlots(rows["a@2"])
			if err != nil {
				t.Fatal(err)
			}
			rows["a@2"] = store.EncodeRow(2, created, slots)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			var rows []store.Row
			for _, e := range []string{"a", "b"} {
				for i, at := range []time.Time{t1, t2} {
					rows = append(rows, store.Row{EntityKey: e, EventTime: at, Values: map[string]any{"age": int64(10 + i), "score": int64(90 + i)}})
				}
			}
			if _, err := s.Write(t.Context(), "profile", rows); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			editRows(t, dir, t1, tc.tamper)
			s = openStore(t, dir)
			defer s.Close()
			res, err := s.GetOnline(t.Context(), "profile", []string{"a", "b"}, []string{"age", "score"})
			if err == nil {
				t.Fatalf("read of tampered data succeeded with %v; want an authentication error", res.Rows)
			}
			if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "failed authentication") {
				t.Errorf("error = %v; want a store.ErrCorrupt saying it failed authentication", err)
			}
			if res != nil {
				t.Errorf("result %v returned beside the error", res)
			}
		})
	}
}

// editRows opens the raw data KV and names each row "x@n": x is "a" or "b",
// the two subjects in blind-index order (which entity is which does not
// matter, only that they differ), and n is 1 for the earlier event time, 2
// for the later. It lets tamper edit the rows and writes the changed ones
// back.
func editRows(t *testing.T, dir string, t1 time.Time, tamper func(*testing.T, map[string][]byte)) {
	t.Helper()
	db, err := kv.OpenBadger(kv.DefaultOptions(filepath.Join(dir, "data")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys [][]byte
	orig := map[string][]byte{}
	names := map[string][]byte{}
	var subjects [][]byte
	err = db.Scan([]byte{store.RowKeyTag}, func(e kv.Entry) error {
		prefix := e.Key[:21]
		idx := -1
		for i, p := range subjects {
			if bytes.Equal(p, prefix) {
				idx = i
			}
		}
		if idx < 0 {
			subjects = append(subjects, prefix)
			idx = len(subjects) - 1
		}
		n := "1"
		if bytes.Equal(e.Key, store.SwapRowKeyTime(e.Key, t1.Add(time.Hour).UnixNano())) {
			n = "2"
		}
		name := string(rune('a'+idx)) + "@" + n
		keys = append(keys, e.Key)
		orig[name] = e.Value
		names[name] = e.Key
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("found %d rows, want 4", len(keys))
	}
	edited := map[string][]byte{}
	for k, v := range orig {
		edited[k] = bytes.Clone(v)
	}
	tamper(t, edited)
	var ops []kv.Op
	for name, v := range edited {
		if !bytes.Equal(v, orig[name]) {
			ops = append(ops, kv.Op{Key: names[name], Value: v})
		}
	}
	if len(ops) == 0 {
		t.Fatal("tamper changed nothing")
	}
	if err := db.Apply(ops); err != nil {
		t.Fatal(err)
	}
}

func slotsOf(t *testing.T, row []byte) [][]byte {
	t.Helper()
	slots, _, _, err := store.RowSlots(row)
	if err != nil {
		t.Fatal(err)
	}
	for i := range slots {
		slots[i] = bytes.Clone(slots[i])
	}
	return slots
}

func reencode(t *testing.T, row []byte, slots [][]byte) []byte {
	t.Helper()
	_, sv, created, err := store.RowSlots(row)
	if err != nil {
		t.Fatal(err)
	}
	return store.EncodeRow(sv, created, slots)
}
