package keys

import (
	"hash/maphash"
	"sync"
	"time"
)

// cache is a bounded LRU with a per-entry time to live, split into shards
// (each with its own lock) so that concurrent readers rarely contend. It holds
// at most size entries in total: each shard's capacity is its share of size.
// An entry expires ttl after it was put (ttl 0: never); an expired entry is
// a miss and is dropped when next touched or when it reaches the LRU tail.
type cache[V any] struct {
	shards []cacheShard[V]
	seed   maphash.Seed
	ttl    time.Duration
	now    func() time.Time
}

type cacheShard[V any] struct {
	mu    sync.Mutex
	cap   int
	items map[string]*cacheEntry[V]
	lru   cacheEntry[V] // sentinel of a circular list: lru.next is the most recent

	// counters, guarded by mu (per shard, so that hits never share a cache line)
	hits, misses, evictions uint64
}

// cacheStats are the counters summed over shards.
type cacheStats struct {
	hits, misses, evictions uint64
	len                     int
}

type cacheEntry[V any] struct {
	key        string
	val        V
	expires    time.Time
	prev, next *cacheEntry[V]
}

// maxShards bounds the shard count; minShardCap keeps shards large enough
// that the per-shard LRU approximates a global one.
const (
	maxShards   = 16
	minShardCap = 64
)

// newCache returns a cache of at most size > 0 entries. now is the clock
// (time.Now outside tests).
func newCache[V any](size int, ttl time.Duration, now func() time.Time) *cache[V] {
	n := 1
	for n < maxShards && size/(2*n) >= minShardCap {
		n *= 2
	}
	c := &cache[V]{shards: make([]cacheShard[V], n), seed: maphash.MakeSeed(), ttl: ttl, now: now}
	for i := range c.shards {
		s := &c.shards[i]
		s.cap = size / n
		if i < size%n {
			s.cap++
		}
		s.items = make(map[string]*cacheEntry[V])
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return c
}

func (c *cache[V]) shard(key []byte) *cacheShard[V] {
	return &c.shards[maphash.Bytes(c.seed, key)&uint64(len(c.shards)-1)] // #nosec G115 -- len(c.shards) is a positive power of two
}

// clock returns the time to pass to get and put: read it once per batch, as
// reading the clock can cost more than a lookup. Without a TTL it is zero.
func (c *cache[V]) clock() time.Time {
	if c.ttl <= 0 {
		return time.Time{}
	}
	return c.now()
}

// get returns the value cached under key, unless it expired by now, and marks
// it most recently used.
func (c *cache[V]) get(key []byte, now time.Time) (V, bool) {
	s := c.shard(key)
	s.mu.Lock()
	e, ok := s.items[string(key)]
	if ok && c.ttl > 0 && !now.Before(e.expires) {
		s.remove(e)
		ok = false
	}
	if !ok {
		s.misses++
		s.mu.Unlock()
		var zero V
		return zero, false
	}
	s.hits++
	s.unlink(e)
	s.pushFront(e)
	v := e.val
	s.mu.Unlock()
	return v, true
}

// put caches v under key (replacing any value) until now+ttl, evicting the
// least recently used entry of the shard when it is full.
func (c *cache[V]) put(key []byte, v V, now time.Time) {
	expires := c.expiry(now)
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[string(key)]; ok {
		e.val, e.expires = v, expires
		s.unlink(e)
		s.pushFront(e)
		return
	}
	s.insert(key, v, expires)
	if len(s.items) > s.cap {
		s.remove(s.lru.prev)
		s.evictions++
	}
}

// add caches v under key until now+ttl only if key is not cached and its
// shard has room: it never replaces or evicts. It reports whether it added.
func (c *cache[V]) add(key []byte, v V, now time.Time) bool {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[string(key)]; ok || len(s.items) >= s.cap {
		return false
	}
	s.insert(key, v, c.expiry(now))
	return true
}

// expiry is when an entry put at now expires (zero: never).
func (c *cache[V]) expiry(now time.Time) time.Time {
	if c.ttl <= 0 {
		return time.Time{}
	}
	return now.Add(c.ttl)
}

// insert adds a new entry as the most recently used; the caller holds mu
// and knows key is absent.
func (s *cacheShard[V]) insert(key []byte, v V, expires time.Time) {
	e := &cacheEntry[V]{key: string(key), val: v, expires: expires}
	s.items[e.key] = e
	s.pushFront(e)
}

// room returns how many more entries the cache holds before it evicts
// (expired entries count as held).
func (c *cache[V]) room() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += max(s.cap-len(s.items), 0)
		s.mu.Unlock()
	}
	return n
}

// remove drops key, if cached.
func (c *cache[V]) remove(key []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if e, ok := s.items[string(key)]; ok {
		s.remove(e)
	}
	s.mu.Unlock()
}

// purge drops every entry.
func (c *cache[V]) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.items)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
		s.mu.Unlock()
	}
}

// stats sums the shards' counters; len counts expired entries too.
func (c *cache[V]) stats() cacheStats {
	var st cacheStats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.hits += s.hits
		st.misses += s.misses
		st.evictions += s.evictions
		st.len += len(s.items)
		s.mu.Unlock()
	}
	return st
}

func (s *cacheShard[V]) pushFront(e *cacheEntry[V]) {
	e.prev, e.next = &s.lru, s.lru.next
	e.next.prev, s.lru.next = e, e
}

func (s *cacheShard[V]) unlink(e *cacheEntry[V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *cacheShard[V]) remove(e *cacheEntry[V]) {
	s.unlink(e)
	delete(s.items, e.key)
}
