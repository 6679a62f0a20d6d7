package rpc

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// TestLimiterShareDividesTheFleetLimit: with a share of n servers, one
// server allows a principal burst/n requests at once, follows the number
// of servers as it changes, and says so when it refuses.
func TestLimiterShareDividesTheFleetLimit(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var servers atomic.Int64
	servers.Store(3)
	l := newLimiter(1, 30, func() time.Time { return now })
	l.share = func() int { return int(servers.Load()) }

	allowed := func(principal string, tries int) (n int, last error) {
		for range tries {
			if err := l.allow(principal); err != nil {
				last = err
				continue
			}
			n++
		}
		return n, last
	}
	n, err := allowed("alice", 20)
	if n != 10 {
		t.Errorf("3 servers, fleet burst 30: this server allowed %d of 20 at once; want 10", n)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "across 3 servers") {
		t.Errorf("refusal: %v; want ResourceExhausted naming the 3 servers", err)
	}
	// Refill at the share of the rate: 1/3 request per second.
	now = now.Add(3 * time.Second)
	if n, _ := allowed("alice", 5); n != 1 {
		t.Errorf("3 s later at a share of 1/3 request/s: %d allowed; want 1", n)
	}

	servers.Store(1) // the other two died: this server is the fleet
	if n, _ := allowed("bob", 40); n != 30 {
		t.Errorf("alone: %d of 40 allowed at once; want the whole burst, 30", n)
	}
	servers.Store(100) // more servers than the burst: at least one each
	if n, _ := allowed("carol", 5); n != 1 {
		t.Errorf("100 servers, fleet burst 30: %d allowed; want 1 (a share is never below one request)", n)
	}
}

// TestLimiterWithoutShareIsPerServer: a server on its own store allows
// the whole burst.
func TestLimiterWithoutShareIsPerServer(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(1, 5, func() time.Time { return now })
	for i := range 5 {
		if err := l.allow("alice"); err != nil {
			t.Fatalf("request %d of a burst of 5: %v", i+1, err)
		}
	}
	if err := l.allow("alice"); err == nil || strings.Contains(err.Error(), "servers") {
		t.Errorf("the 6th request: %v; want a refusal that names no servers", err)
	}
}
