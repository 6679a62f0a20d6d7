package keys

import (
	"fmt"
	"testing"
	"time"
)

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := newCache[int](2, 0, time.Now)
	var now time.Time
	c.put([]byte("a"), 1, now)
	c.put([]byte("b"), 2, now)
	c.get([]byte("a"), now) // a is now more recent than b
	c.put([]byte("c"), 3, now)

	for key, want := range map[string]bool{"a": true, "b": false, "c": true} {
		if _, ok := c.get([]byte(key), now); ok != want {
			t.Errorf("get(%q) present = %v, want %v", key, ok, want)
		}
	}
	if got := c.stats().evictions; got != 1 {
		t.Errorf("evictions = %d, want 1", got)
	}
}

func TestCacheExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	c := newCache[int](10, time.Minute, func() time.Time { return t0 })
	if got := c.clock(); !got.Equal(t0) {
		t.Errorf("clock() = %v, want %v", got, t0)
	}
	c.put([]byte("k"), 7, t0)

	if v, ok := c.get([]byte("k"), t0.Add(time.Minute-time.Nanosecond)); !ok || v != 7 {
		t.Errorf("get just before TTL = %v, %v; want 7, true", v, ok)
	}
	if _, ok := c.get([]byte("k"), t0.Add(time.Minute)); ok {
		t.Errorf("get at TTL: present; want expired")
	}
	if got := c.stats().len; got != 0 {
		t.Errorf("len after expiry = %d, want 0 (expired entry dropped)", got)
	}
}

func TestCacheWithoutTTLNeverExpires(t *testing.T) {
	t.Parallel()
	c := newCache[int](10, 0, func() time.Time { panic("clock read without a TTL") })
	c.put([]byte("k"), 7, c.clock())
	if _, ok := c.get([]byte("k"), time.Unix(1<<40, 0)); !ok {
		t.Errorf("entry expired without a TTL")
	}
}

func TestCacheNeverExceedsSize(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 2, 63, 128, 1000, 4097, 100_000} { // 16 shards from 2048 up
		c := newCache[int](size, 0, time.Now)
		capSum := 0
		for i := range c.shards {
			capSum += c.shards[i].cap
		}
		if capSum != size {
			t.Errorf("size %d: shard capacities sum to %d", size, capSum)
		}
		if size > 5000 {
			continue // capacities checked; overfilling adds no coverage
		}
		for i := range 2*size + 10 {
			c.put(fmt.Appendf(nil, "k%d", i), i, time.Time{})
		}
		if got := c.stats().len; got > size {
			t.Errorf("size %d: len after overfilling = %d", size, got)
		}
	}
}

func TestCacheRemoveAndPurge(t *testing.T) {
	t.Parallel()
	c := newCache[int](100, 0, time.Now)
	var now time.Time
	for i := range 10 {
		c.put(fmt.Appendf(nil, "k%d", i), i, now)
	}
	c.remove([]byte("k3"))
	if _, ok := c.get([]byte("k3"), now); ok {
		t.Errorf("get after remove: present")
	}
	c.put([]byte("k4"), 44, now) // replace
	if v, _ := c.get([]byte("k4"), now); v != 44 {
		t.Errorf("get after replace = %d, want 44", v)
	}
	if got := c.stats().len; got != 9 {
		t.Errorf("len = %d, want 9", got)
	}
	c.purge()
	if got := c.stats().len; got != 0 {
		t.Errorf("len after purge = %d, want 0", got)
	}
	c.put([]byte("again"), 1, now)
	if _, ok := c.get([]byte("again"), now); !ok {
		t.Errorf("cache unusable after purge")
	}
}
