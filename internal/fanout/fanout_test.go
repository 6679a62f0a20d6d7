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
		err := Run(n, func(lo, hi int) error {
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
		want := max(1, min(4, n/MinPerPart))
		if int(calls.Load()) != want {
			t.Errorf("n=%d: %d parts, want %d", n, calls.Load(), want)
		}
	}
}

func TestRunReturnsTheLowestRangesError(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	err := Run(100, func(lo, hi int) error {
		if lo > 0 { // every range but the first fails
			return fmt.Errorf("range at %d", lo)
		}
		return nil
	})
	if err == nil || err.Error() != "range at 25" {
		t.Fatalf("err = %v, want the second range's", err)
	}
	sentinel := errors.New("first")
	err = Run(100, func(lo, hi int) error {
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
	if err := Run(1000, func(lo, hi int) error { calls++; return nil }); err != nil || calls != 1 {
		t.Fatalf("calls = %d, err = %v; want one call on the caller's goroutine", calls, err)
	}
}
