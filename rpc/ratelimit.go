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
//
// On a shared store rate and burst are the fleet's: with share set, this
// server allows 1/share() of each (share is the number of live servers), so
// that the servers together never allow a principal more than the limit,
// wherever its calls land. The price is that a principal whose calls all
// reach one server gets only that server's share.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time
	share func() int // live servers sharing the limit; nil: this server alone

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
	rate, burst, n := l.rate, l.burst, 1
	if l.share != nil {
		n = max(l.share(), 1)
		rate, burst = rate/float64(n), max(burst/float64(n), 1)
	}
	now := l.now()
	l.mu.Lock()
	b := l.buckets[principal]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.dropFullLocked(now, rate, burst)
		}
		b = &bucket{tokens: burst, last: now}
		l.buckets[principal] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		l.mu.Unlock()
		return nil
	}
	wait := time.Duration((1 - b.tokens) / rate * float64(time.Second))
	l.mu.Unlock()
	msg := fmt.Sprintf("rate limit of %g requests/s (burst %g) exceeded for this principal", l.rate, l.burst)
	if n > 1 {
		msg = fmt.Sprintf("rate limit of %g requests/s (burst %g) across %d servers exceeded for this principal on this server (its share: %.4g/s, burst %.4g)", l.rate, l.burst, n, rate, burst)
	}
	err := connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("%s; retry in %s (the server's --rate-limit sets it)", msg, wait.Round(time.Millisecond)))
	if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
		err.AddDetail(d)
	}
	return err
}

// dropFullLocked forgets buckets that have refilled: they hold no state.
func (l *limiter) dropFullLocked(now time.Time, rate, burst float64) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*rate >= burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
