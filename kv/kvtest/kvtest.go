// Package kvtest is the conformance suite every kv.Store implementation
// passes: the embedded Badger store and the PostgreSQL store run the same
// tests, so code above the interface behaves the same on either.
package kvtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

// Open returns a new, empty store for one test; the suite closes it.
type Open func(t *testing.T) kv.Store

// Run runs every conformance test against stores made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"UpdateIsAtomicUnderConcurrency", updateIsAtomic},
		{"UpdateUnchangedWritesNothingAndErrorsAbort", updateUnchangedAndErrors},
		{"FirstAndScanHonourPrefixes", firstAndScan},
		{"GetReturnsNilForAbsentAndEmptyForEmpty", getAbsentAndEmpty},
		{"ApplyIsOrderedAndAtomic", applyOrdered},
		{"SeekStartsSkipsAndStops", seekStartsSkipsAndStops},
		{"SeekReturnsCallbackErrorUnchanged", seekCallbackError},
		{"ScanAndSeekCrossPages", scanCrossesPages},
		{"HighBytePrefixes", highBytePrefixes},
		{"FirstOfEmptyPrefix", firstEmptyPrefix},
		{"FirstOfManyPrefixes", firstOfMany},
		{"ClosedStoreRefuses", closedRefuses},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

func mustApply(t *testing.T, db kv.Store, ops ...kv.Op) {
	t.Helper()
	if err := db.Apply(ops); err != nil {
		t.Fatal(err)
	}
}

func set(k, v string) kv.Op { return kv.Op{Key: []byte(k), Value: []byte(v)} }

func updateIsAtomic(t *testing.T, open Open) {
	db := open(t)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := kv.Update(db, []byte("n"), func(old []byte) ([]byte, error) {
					var n uint64
					if old != nil {
						n = binary.BigEndian.Uint64(old)
					}
					return binary.BigEndian.AppendUint64(nil, n+1), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, err := db.Get([][]byte{[]byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint64(v[0]); got != workers*each {
		t.Errorf("counter = %d after %d increments; updates were lost", got, workers*each)
	}
}

func updateUnchangedAndErrors(t *testing.T, open Open) {
	db := open(t)
	mustApply(t, db, set("k", "v1"))
	var saw string
	if err := kv.Update(db, []byte("k"), func(old []byte) ([]byte, error) { saw = string(old); return old, nil }); err != nil {
		t.Fatal(err)
	}
	if saw != "v1" {
		t.Errorf("Update saw %q, want v1", saw)
	}
	boom := errors.New("boom")
	err := kv.Update(db, []byte("k"), func([]byte) ([]byte, error) { return []byte("v2"), boom })
	if !errors.Is(err, boom) {
		t.Errorf("Update returned %v, want the callback's error", err)
	}
	got, err := db.Get([][]byte{[]byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0]) != "v1" {
		t.Errorf("after an aborted Update, k = %q, want v1", got[0])
	}
	if err := kv.Update(db, []byte("new"), func(old []byte) ([]byte, error) {
		if old != nil {
			t.Errorf("Update of an absent key saw %q, want nil", old)
		}
		return []byte("first"), nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Get([][]byte{[]byte("new")}); string(got[0]) != "first" {
		t.Errorf("new = %q, want first", got[0])
	}
}

func firstAndScan(t *testing.T, open Open) {
	db := open(t)
	mustApply(t, db, set("a/2", "x"), set("a/1", "y"), set("b/1", "z"))
	got, err := db.First([][]byte{[]byte("a/"), []byte("c/"), []byte("b/")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/1=y", "=", "b/1=z"}
	for i, e := range got {
		if s := string(e.Key) + "=" + string(e.Value); s != want[i] {
			t.Errorf("First[%d] = %s, want %s", i, s, want[i])
		}
	}
	var keys []string
	if err := db.Scan([]byte("a/"), func(e kv.Entry) error { keys = append(keys, string(e.Key)); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"a/1", "a/2"}) {
		t.Errorf("Scan(a/) = %v, want [a/1 a/2]", keys)
	}
	mustApply(t, db, kv.Op{Key: []byte("a/1"), Delete: true})
	if ok, _ := kv.HasPrefix(db, []byte("a/1")); ok {
		t.Error("a/1 still present after delete")
	}
	boom := errors.New("stop")
	if err := db.Scan([]byte(""), func(kv.Entry) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Scan returned %v, want the callback's error", err)
	}
}

func getAbsentAndEmpty(t *testing.T, open Open) {
	db := open(t)
	mustApply(t, db, set("full", "v"), kv.Op{Key: []byte("empty"), Value: []byte{}})
	got, err := db.Get([][]byte{[]byte("full"), []byte("absent"), []byte("full")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0]) != "v" || got[1] != nil || string(got[2]) != "v" {
		t.Errorf("Get = %q, want [v <nil> v]", got)
	}
	if ok, err := kv.HasPrefix(db, []byte("empty")); err != nil || !ok {
		t.Errorf("HasPrefix(empty) = %v, %v; want true: a key with an empty value exists", ok, err)
	}
	if got, err := db.Get(nil); err != nil || len(got) != 0 {
		t.Errorf("Get(nil) = %v, %v; want empty", got, err)
	}
}

func applyOrdered(t *testing.T, open Open) {
	db := open(t)
	mustApply(t, db, set("k", "1"), kv.Op{Key: []byte("k"), Delete: true}, set("j", "1"), set("j", "2"))
	got, err := db.Get([][]byte{[]byte("k"), []byte("j")})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != nil || string(got[1]) != "2" {
		t.Errorf("after set k, delete k, set j=1, set j=2: k=%q j=%q; want <nil> and 2", got[0], got[1])
	}
	if err := db.Apply(nil); err != nil {
		t.Errorf("Apply(nil) = %v", err)
	}
}

// seekStore holds a/1 … a/5 and b/1.
func seekStore(t *testing.T, open Open) kv.Store {
	t.Helper()
	db := open(t)
	var ops []kv.Op
	for _, k := range []string{"a/1", "a/2", "a/3", "a/4", "a/5", "b/1"} {
		ops = append(ops, kv.Op{Key: []byte(k), Value: []byte("v" + k)})
	}
	mustApply(t, db, ops...)
	return db
}

func seekStartsSkipsAndStops(t *testing.T, open Open) {
	db := seekStore(t, open)
	tests := []struct {
		name   string
		prefix string
		start  string
		steer  func(key string) ([]byte, error)
		want   []string
	}{
		{"whole prefix", "a/", "", nil, []string{"a/1", "a/2", "a/3", "a/4", "a/5"}},
		{"start mid-prefix", "a/", "a/3", nil, []string{"a/3", "a/4", "a/5"}},
		{"start between keys", "a/", "a/25", nil, []string{"a/3", "a/4", "a/5"}},
		{"start before prefix", "b/", "a/", nil, []string{"b/1"}},
		{"start after prefix", "a/", "a/9", nil, nil},
		{"skip ahead", "a/", "", func(k string) ([]byte, error) {
			if k == "a/1" {
				return []byte("a/4"), nil
			}
			return nil, nil
		}, []string{"a/1", "a/4", "a/5"}},
		{"skip past the prefix ends the walk", "a/", "", func(k string) ([]byte, error) {
			return []byte("a0"), nil
		}, []string{"a/1"}},
		{"SkipAll stops", "a/", "", func(k string) ([]byte, error) {
			if k == "a/2" {
				return nil, kv.SkipAll
			}
			return nil, nil
		}, []string{"a/1", "a/2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := db.Seek([]byte(tt.prefix), []byte(tt.start), func(e kv.Entry) ([]byte, error) {
				if string(e.Value) != "v"+string(e.Key) {
					t.Errorf("value of %s = %q, want %q", e.Key, e.Value, "v"+string(e.Key))
				}
				got = append(got, string(e.Key))
				if tt.steer == nil {
					return nil, nil
				}
				return tt.steer(string(e.Key))
			})
			if err != nil {
				t.Fatalf("Seek: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Seek(%q, %q) visited %v, want %v", tt.prefix, tt.start, got, tt.want)
			}
		})
	}
}

func seekCallbackError(t *testing.T, open Open) {
	db := seekStore(t, open)
	boom := errors.New("boom")
	err := db.Seek([]byte("a/"), nil, func(kv.Entry) ([]byte, error) { return nil, boom })
	if err != boom {
		t.Errorf("Seek returned %v, want the callback's error itself", err)
	}
}

// scanCrossesPages writes more entries than a paging store reads at once,
// and walks them whole and with skips.
func scanCrossesPages(t *testing.T, open Open) {
	db := open(t)
	const n = 1500
	var ops []kv.Op
	for i := range n {
		ops = append(ops, kv.Op{Key: binary.BigEndian.AppendUint32([]byte("p/"), uint32(i)), Value: []byte{byte(i)}})
	}
	mustApply(t, db, ops...)
	mustApply(t, db, set("p0", "outside"), set("o", "outside"))
	count := 0
	if err := db.Scan([]byte("p/"), func(e kv.Entry) error {
		if i := binary.BigEndian.Uint32(e.Key[2:]); i != uint32(count) || e.Value[0] != byte(i) { // #nosec G115 -- count < 1500; the low byte is what was written
			t.Fatalf("entry %d is key %d value %d", count, i, e.Value[0])
		}
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("Scan visited %d entries, want %d", count, n)
	}
	// Skip 100 ahead from every visited key: 0, 100, … 1400.
	var visited []uint32
	if err := db.Seek([]byte("p/"), nil, func(e kv.Entry) ([]byte, error) {
		i := binary.BigEndian.Uint32(e.Key[2:])
		visited = append(visited, i)
		return binary.BigEndian.AppendUint32([]byte("p/"), i+100), nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(visited) != n/100 || visited[len(visited)-1] != n-100 {
		t.Errorf("skipping Seek visited %v, want 0, 100, … %d", visited, n-100)
	}
}

func highBytePrefixes(t *testing.T, open Open) {
	db := open(t)
	mustApply(t, db, kv.Op{Key: []byte{0xff, 0xff, 1}, Value: []byte("a")}, kv.Op{Key: []byte{0xff, 0xfe}, Value: []byte("b")}, kv.Op{Key: []byte{0}, Value: []byte("c")})
	var got [][]byte
	if err := db.Scan([]byte{0xff, 0xff}, func(e kv.Entry) error { got = append(got, e.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0][2] != 1 {
		t.Errorf("Scan(ff ff) = %x, want [ffff01]", got)
	}
	all := 0
	if err := db.Scan(nil, func(kv.Entry) error { all++; return nil }); err != nil {
		t.Fatal(err)
	}
	if all != 3 {
		t.Errorf("Scan(nil) visited %d entries, want 3", all)
	}
}

func closedRefuses(t *testing.T, open Open) {
	db := open(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get([][]byte{[]byte("k")}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Get after Close = %v, want kv.ErrClosed", err)
	}
	if err := db.Apply([]kv.Op{set("k", "v")}); !errors.Is(err, kv.ErrClosed) {
		t.Errorf("Apply after Close = %v, want kv.ErrClosed", err)
	}
}

// RunGuarded runs the GuardedApplier tests against stores made by open,
// which must implement it.
func RunGuarded(t *testing.T, open Open) {
	t.Run("ApplyGuardedChainsUnderConcurrency", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		// Each writer appends record n+1 and moves the head to it; a lost
		// exclusion shows as two records with one number, or a gap.
		const workers, each = 6, 15
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					err := kv.ApplyGuarded(db, []byte("head"), func(cur []byte) ([]kv.Op, error) {
						return appendAfter(cur), nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		n := chainLength(t, db)
		if n != workers*each {
			t.Errorf("%d records after %d guarded appends; appends overwrote each other", n, workers*each)
		}
	})
	t.Run("ApplyGuardedErrorAborts", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		boom := errors.New("boom")
		calls := 0
		err := kv.ApplyGuarded(db, []byte("g"), func([]byte) ([]kv.Op, error) {
			calls++
			return []kv.Op{{Key: []byte("g"), Value: []byte("x")}}, boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("ApplyGuarded returned %v, want the callback's error", err)
		}
		if calls != 1 {
			t.Errorf("the callback ran %d times for one error; an error must abort, not retry", calls)
		}
		if got, _ := db.Get([][]byte{[]byte("g")}); got[0] != nil {
			t.Errorf("after an aborted ApplyGuarded, g = %q, want absent", got[0])
		}
	})
}

// RunSwap runs the Swapper tests against stores made by open, which must
// implement it (and GuardedApplier).
func RunSwap(t *testing.T, open Open) {
	t.Run("ApplyIfSwapsOnlyFromTheExpectedValue", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		sw := db.(kv.Swapper)
		mustApply(t, db, set("g", "a"))
		swap := []kv.Op{set("g", "c"), set("x", "1")}
		for _, want := range []string{"b", "", "ab"} {
			ok, err := sw.ApplyIf([]byte("g"), []byte(want), swap)
			if ok || err != nil {
				t.Errorf("ApplyIf from %q while g holds %q = %v, %v; want false, nil", want, "a", ok, err)
			}
		}
		if got, _ := db.Get([][]byte{[]byte("g"), []byte("x")}); string(got[0]) != "a" || got[1] != nil {
			t.Fatalf("a refused ApplyIf wrote: g = %q, x = %q", got[0], got[1])
		}
		if ok, err := sw.ApplyIf([]byte("absent"), []byte("a"), []kv.Op{set("absent", "b")}); ok || err != nil {
			t.Errorf("ApplyIf of an absent guard = %v, %v; want false, nil", ok, err)
		}
		if ok, err := sw.ApplyIf([]byte("g"), []byte("a"), swap); !ok || err != nil {
			t.Fatalf("ApplyIf from the value g holds = %v, %v; want true, nil", ok, err)
		}
		if got, _ := db.Get([][]byte{[]byte("g"), []byte("x")}); string(got[0]) != "c" || string(got[1]) != "1" {
			t.Errorf("after ApplyIf: g = %q, x = %q; want c, 1", got[0], got[1])
		}
		for name, args := range map[string]struct {
			want []byte
			ops  []kv.Op
		}{
			"nil want":       {nil, swap},
			"no op on guard": {[]byte("c"), []kv.Op{set("x", "2")}},
			"guard deleted":  {[]byte("c"), []kv.Op{{Key: []byte("g"), Delete: true}}},
		} {
			if ok, err := sw.ApplyIf([]byte("g"), args.want, args.ops); ok || !errors.Is(err, kv.ErrSwapWithoutGuard) {
				t.Errorf("ApplyIf with %s = %v, %v; want kv.ErrSwapWithoutGuard", name, ok, err)
			}
		}
		if got, _ := db.Get([][]byte{[]byte("g"), []byte("x")}); string(got[0]) != "c" || string(got[1]) != "1" {
			t.Errorf("refused ApplyIf calls changed g, x to %q, %q", got[0], got[1])
		}
	})
	t.Run("ApplyIfChainsBesideApplyGuarded", func(t *testing.T) {
		t.Parallel()
		db := open(t)
		sw := db.(kv.Swapper)
		// As a shared log's writers do: swap from the head each writer
		// last wrote, and on false chain after the current head under
		// ApplyGuarded. A swap that wins on a stale head shows as two
		// records with one number, or a gap.
		mustApply(t, db, set("head", "\x00\x00\x00\x00"))
		const workers, each = 6, 15
		var swaps, fallbacks atomic.Int32
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				last := []byte{0, 0, 0, 0}
				for range each {
					ops := appendAfter(last)
					ok, err := sw.ApplyIf([]byte("head"), last, ops)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						swaps.Add(1)
						last = ops[1].Value
						continue
					}
					fallbacks.Add(1)
					err = kv.ApplyGuarded(db, []byte("head"), func(cur []byte) ([]kv.Op, error) {
						ops = appendAfter(cur)
						return ops, nil
					})
					if err != nil {
						t.Error(err)
						return
					}
					last = ops[1].Value
				}
			}()
		}
		wg.Wait()
		n := chainLength(t, db)
		if n != workers*each {
			t.Errorf("%d records after %d appends (%d swaps, %d fallbacks); appends overwrote each other", n, workers*each, swaps.Load(), fallbacks.Load())
		}
		if swaps.Load() == 0 {
			t.Error("no ApplyIf succeeded: the swap path was not exercised")
		}
	})
}

// appendAfter returns the ops that append the next record of the chain
// tests after the head cur (nil: none yet) and move the head to it.
func appendAfter(cur []byte) []kv.Op {
	var n uint32
	if cur != nil {
		n = binary.BigEndian.Uint32(cur)
	}
	head := binary.BigEndian.AppendUint32(nil, n+1)
	return []kv.Op{{Key: append([]byte("rec/"), head...), Value: head}, {Key: []byte("head"), Value: head}}
}

// chainLength counts the records "rec/" + be32(n) that the chain tests
// append, checking that they are numbered 1, 2, … without a gap.
func chainLength(t *testing.T, db kv.Store) int {
	t.Helper()
	n := 0
	if err := db.Scan([]byte("rec/"), func(e kv.Entry) error {
		n++
		if got := binary.BigEndian.Uint32(e.Key[4:]); got != uint32(n) { // #nosec G115 -- n is a test's count of records
			t.Errorf("record %d is numbered %d", n, got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// RunCopy checks Copy and VerifyCopy from a Badger-like source into stores
// made by open.
func RunCopy(t *testing.T, src kv.Store, open Open) {
	t.Run("CopyAndVerify", func(t *testing.T) {
		t.Parallel()
		dst := open(t)
		var want int
		if err := src.Scan(nil, func(kv.Entry) error { want++; return nil }); err != nil {
			t.Fatal(err)
		}
		n, err := kv.Copy(dst, src, 7, nil)
		if err != nil || n != want {
			t.Fatalf("Copy = %d, %v; want %d entries", n, err, want)
		}
		if n, err := kv.VerifyCopy(dst, src, 5); err != nil || n != want {
			t.Errorf("VerifyCopy = %d, %v; want %d, nil", n, err, want)
		}
		if _, err := kv.Copy(dst, src, 7, nil); !errors.Is(err, kv.ErrNotEmpty) {
			t.Errorf("a second Copy into the same store = %v, want ErrNotEmpty", err)
		}
		// An altered, a deleted and an extra entry are each detected.
		var first kv.Entry
		_ = src.Scan(nil, func(e kv.Entry) error { first = e; return kv.SkipAll })
		for _, tc := range []struct {
			name         string
			mutate, undo kv.Op
		}{
			{"altered", kv.Op{Key: first.Key, Value: append([]byte("x"), first.Value...)}, kv.Op{Key: first.Key, Value: first.Value}},
			{"deleted", kv.Op{Key: first.Key, Delete: true}, kv.Op{Key: first.Key, Value: first.Value}},
			{"extra", kv.Op{Key: []byte("\xff\xffextra"), Value: []byte("x")}, kv.Op{Key: []byte("\xff\xffextra"), Delete: true}},
		} {
			mustApply(t, dst, tc.mutate)
			if _, err := kv.VerifyCopy(dst, src, 5); err == nil {
				t.Errorf("VerifyCopy with an %s entry passed", tc.name)
			}
			mustApply(t, dst, tc.undo)
		}
	})
}

// firstOfMany: a First of many prefixes (split across cores by a store
// that fans out) answers each in its own place — unsorted, absent and
// repeated prefixes among them — with entries that stay intact after
// later writes.
func firstOfMany(t *testing.T, open Open) {
	db := open(t)
	const n = 200
	var ops []kv.Op
	for i := 0; i < n; i += 2 { // odd subjects have no entry
		ops = append(ops, set(fmt.Sprintf("s%03d/2", i), fmt.Sprintf("old%d", i)), set(fmt.Sprintf("s%03d/1", i), fmt.Sprintf("new%d", i)))
	}
	mustApply(t, db, ops...)
	var prefixes [][]byte
	var want []string
	for k := range n + 10 {
		i := (k * 7919) % n // a permutation of 0..n-1, then ten repeats
		prefixes = append(prefixes, []byte(fmt.Sprintf("s%03d/", i)))
		if i%2 == 0 {
			want = append(want, fmt.Sprintf("s%03d/1=new%d", i, i))
		} else {
			want = append(want, "=")
		}
	}
	got, err := db.First(prefixes)
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, db, set("s000/0", "overwrites nothing returned"))
	if len(got) != len(want) {
		t.Fatalf("First returned %d entries for %d prefixes", len(got), len(want))
	}
	for i, e := range got {
		if s := string(e.Key) + "=" + string(e.Value); s != want[i] {
			t.Errorf("First[%d] (prefix %s) = %s, want %s", i, prefixes[i], s, want[i])
		}
	}
}

// firstEmptyPrefix: First with a nil prefix finds the smallest key.
func firstEmptyPrefix(t *testing.T, open Open) {
	db := open(t)
	mustApply(t, db, set("b", "2"), set("a", "1"))
	got, err := db.First([][]byte{nil})
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Key) != "a" {
		t.Errorf("First(nil) = %q, want a", got[0].Key)
	}
}
