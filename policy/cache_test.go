package policy

import (
	"fmt"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

// TestDecisionCacheIsBounded decides for more keys than the cache holds.
func TestDecisionCacheIsBounded(t *testing.T) {
	t.Parallel()
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e, err := Open(s, DefaultOptions().WithCacheSize(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SyncView("v", []FieldRef{{Name: "f"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreatePrincipal("alice", nil, nil); err != nil {
		t.Fatal(err)
	}
	p, err := e.Principal("alice")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := e.Decide(p, "v", []FieldRef{{Name: "f"}}, ActionRead, fmt.Sprintf("purpose%d", i), "prod"); err != nil {
			t.Fatal(err)
		}
		if got := e.cache.len(); got > 3 {
			t.Fatalf("after %d decisions the cache holds %d entries, want at most 3", i+1, got)
		}
	}
	if got := e.cache.len(); got != 3 {
		t.Errorf("cache holds %d entries, want 3", got)
	}
	if err := e.Grant(Rule{Role: "r", Action: ActionRead, Object: "*"}); err != nil {
		t.Fatal(err)
	}
	if got := e.cache.len(); got != 0 {
		t.Errorf("after a grant the cache holds %d entries, want 0", got)
	}
}

// TestDecisionCacheRefusesStaleEntries checks both guards against a
// decision computed before a change and stored after it.
func TestDecisionCacheRefusesStaleEntries(t *testing.T) {
	t.Parallel()
	c := newDecisionCache(4)
	k := cacheKey{principal: "alice", view: "v", purpose: "training", env: "prod", action: ActionRead}
	version := uint64(7)
	c.put(k, &viewDecision{version: 6}, func() uint64 { return version })
	if c.len() != 0 {
		t.Errorf("an entry of version 6 was stored at version 7")
	}
	c.put(k, &viewDecision{version: 7}, func() uint64 { return version })
	if c.get(k, 7) == nil {
		t.Errorf("get at the entry's version = nil, want the entry")
	}
	if c.get(k, 8) != nil {
		t.Errorf("get at a later version returned an entry")
	}
}
