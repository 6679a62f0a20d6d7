// Package fanout splits the items of one request across the machine's
// cores: the rows of a write are encrypted, the rows of an export batch
// decrypted, the entities of an online read sought and decrypted, the
// subject keys of a rewrap batch re-wrapped, each on their own, so a request's latency at low load is its work divided by
// GOMAXPROCS rather than the sum. Small requests stay on the caller's
// goroutine, where a hand-off would cost more than it saves.
package fanout

import (
	"runtime"
	"sync"
)

// Run calls fn over consecutive ranges [lo, hi) that together cover [0, n)
// exactly once, on up to GOMAXPROCS goroutines (the caller's among them),
// each range at least minPerPart items long: below 2×minPerPart items fn
// runs once, on the caller's goroutine. It returns the error of the lowest
// range that failed, so that the same input fails the same way however it
// was split. fn must only write state that belongs to its own range.
func Run(n, minPerPart int, fn func(lo, hi int) error) error {
	parts := min(runtime.GOMAXPROCS(0), n/max(minPerPart, 1))
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
