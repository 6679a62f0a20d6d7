// Package fanout splits the items of one request across the machine's
// cores: a read of many entities seeks and decrypts each entity on its own,
// so its latency at low load is the work divided by GOMAXPROCS rather than
// the sum. Small requests stay on the caller's goroutine, where a hand-off
// would cost more than it saves.
package fanout

import (
	"runtime"
	"sync"
)

// MinPerPart is the fewest items a part gets: below 2×MinPerPart items a
// request runs on the caller's goroutine alone. A 1×50 online read is one
// item; a 100×50 read splits in two on two cores.
const MinPerPart = 8

// Run calls fn over consecutive ranges [lo, hi) that together cover [0, n)
// exactly once, on up to GOMAXPROCS goroutines (the caller's among them),
// and returns the error of the lowest range that failed, so that the same
// input fails the same way however it was split. fn must only write state
// that belongs to its own range.
func Run(n int, fn func(lo, hi int) error) error {
	parts := min(runtime.GOMAXPROCS(0), n/MinPerPart)
	if parts <= 1 {
		return fn(0, n)
	}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { errs[p] = fn(bounds(n, parts, p)) })
	}
	errs[0] = fn(bounds(n, parts, 0))
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// bounds returns part p's range of n items in parts nearly equal ranges.
func bounds(n, parts, p int) (lo, hi int) {
	return n * p / parts, n * (p + 1) / parts
}
