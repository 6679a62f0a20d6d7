package fanout

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestRunCoversEveryItemOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, n := range []int{0, 1, 15, 16, 17, 33, 100, 1000} {
		seen := make([]int32, n)
		var calls atomic.Int32
		err := Run(n, 8, func(lo, hi int) error {
			calls.Add(1)
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&seen[i], 1)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: item %d visited %d times", n, i, c)
			}
		}
		want := max(1, min(4, n/8))
		if int(calls.Load()) != want {
			t.Errorf("n=%d: %d parts, want %d", n, calls.Load(), want)
		}
	}
}

func TestRunReturnsTheLowestRangesError(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	err := Run(100, 8, func(lo, hi int) error {
		if lo > 0 { // every range but the first fails
			return fmt.Errorf("range at %d", lo)
		}
		return nil
	})
	if err == nil || err.Error() != "range at 25" {
		t.Fatalf("err = %v, want the second range's", err)
	}
	sentinel := errors.New("first")
	err = Run(100, 8, func(lo, hi int) error {
		if lo == 0 {
			return sentinel
		}
		return errors.New("later")
	})
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want the first range's", err)
	}
}

func TestRunStaysOnTheCallerWithOneCore(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	calls := 0 // not atomic: the race detector fails the test if Run spawns
	if err := Run(1000, 8, func(lo, hi int) error { calls++; return nil }); err != nil || calls != 1 {
		t.Fatalf("calls = %d, err = %v; want one call on the caller's goroutine", calls, err)
	}
}

func TestRunHonoursTheSmallestPart(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, tc := range []struct{ n, minPerPart, parts int }{{100, 64, 1}, {128, 64, 2}, {1000, 64, 4}, {3, 0, 3}} {
		var calls atomic.Int32
		if err := Run(tc.n, tc.minPerPart, func(lo, hi int) error {
			calls.Add(1)
			if hi-lo < tc.minPerPart {
				t.Errorf("n=%d min=%d: a part of %d items", tc.n, tc.minPerPart, hi-lo)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if int(calls.Load()) != tc.parts {
			t.Errorf("n=%d min=%d: %d parts, want %d", tc.n, tc.minPerPart, calls.Load(), tc.parts)
		}
	}
}
