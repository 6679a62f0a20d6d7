package rpc

import (
	"fmt"
	"math"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
)

// limiter is a token bucket per principal: each principal may make rate
// requests per second on average, in bursts of up to burst. A first defence
// against scraping and model extraction; a zero rate disables it.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory; full buckets are dropped first.
const maxBuckets = 100_000

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(max(burst, 1)), now: now, buckets: make(map[string]*bucket)}
}

// allow takes one token from the principal's bucket, or returns a
// ResourceExhausted error with RetryInfo saying when to retry.
func (l *limiter) allow(principal string) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	b := l.buckets[principal]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.dropFullLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[principal] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		l.mu.Unlock()
		return nil
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	l.mu.Unlock()
	err := connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("rate limit of %g requests/s (burst %g) exceeded for this principal; retry in %s (the server's --rate-limit sets it)", l.rate, l.burst, wait.Round(time.Millisecond)))
	if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
		err.AddDetail(d)
	}
	return err
}

// dropFullLocked forgets buckets that have refilled: they hold no state.
func (l *limiter) dropFullLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
