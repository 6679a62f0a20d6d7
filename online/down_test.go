package online_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/redistest"
)

// TestRedisDownReadsFallBackWritesCatchUp pauses every node of the shared
// cluster (CLIENT PAUSE: they answer nothing for a while, as unreachable
// nodes would). It does not run in parallel: other tests share the cluster.
func TestRedisDownReadsFallBackWritesCatchUp(t *testing.T) {
	c := redistest.Shared(t)
	var logs syncBuffer
	st, tier := openTierLog(t, t.TempDir(), c, slog.New(slog.NewTextHandler(&logs, nil)))
	k := "down-subject"
	write(t, st, "before", time.Now().Add(-time.Second), k)
	if got := emails(t, tier, k); got[0] != "before-"+k {
		t.Fatalf("before the outage: got %q", got[0])
	}
	errsBefore := tier.Status(t.Context()).Errors
	for _, n := range c.Nodes {
		if out, err := n.CLI("CLIENT", "PAUSE", "6000", "ALL"); err != nil {
			t.Fatalf("pause %s: %v %s", n.Addr, err, out)
		}
	}
	paused := time.Now()
	write(t, st, "during", time.Now(), k) // succeeds against the store
	if got := emails(t, tier, k); got[0] != "during-"+k {
		t.Errorf("read during the outage: got %q, want the acknowledged write", got[0])
	}
	s := tier.Status(t.Context())
	if s.Errors <= errsBefore || s.Up {
		t.Errorf("during the outage: %d Redis errors (before: %d), up %v; want more errors and up false", s.Errors, errsBefore, s.Up)
	}
	if s.OutboxDepth != 1 {
		t.Errorf("outbox depth during the outage: got %d, want 1", s.OutboxDepth)
	}
	if d := time.Since(paused); d > 5500*time.Millisecond {
		t.Fatalf("the checks during the outage took %v, longer than the outage: the test saw nothing", d)
	}
	// The pause ends; the drainer catches up.
	deadline := time.Now().Add(10 * time.Second)
	for tier.Status(t.Context()).OutboxDepth > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if d := tier.Status(t.Context()).OutboxDepth; d != 0 {
		t.Fatalf("outbox depth after the outage: got %d, want 0", d)
	}
	hits := tier.Status(t.Context()).Hits
	if got := emails(t, tier, k); got[0] != "during-"+k {
		t.Errorf("after the outage: got %q", got[0])
	}
	if tier.Status(t.Context()).Hits != hits+1 || !tier.Status(t.Context()).Up {
		t.Errorf("after the outage the row is not served by Redis (hits %d to %d)", hits, tier.Status(t.Context()).Hits)
	}
	// Logged: the outage and the recovery, never a value or a key.
	got := logs.String()
	for _, want := range []string{"Redis is unavailable", "Redis is reachable again"} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{k, "during-", "before-"} {
		if strings.Contains(got, secret) {
			t.Errorf("logs hold %q:\n%s", secret, got)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
