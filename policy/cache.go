package policy

import "sync"

// cacheKey identifies one cached decision: a principal's verdicts on every
// column of a view for one action, purpose and environment. All parts are
// plain strings, which is what makes decisions cacheable: the model has no
// attribute-dependent matcher, so the same key always gets the same
// verdicts under one policy version.
type cacheKey struct {
	principal string
	idpRoles  string // Principal.IdPRoles joined by commas (role names hold none)
	view      string
	purpose   string
	env       string
	action    Action
}

// viewDecision holds the verdicts on every column the policy knows for a
// view (fields), at one policy version. It is immutable once cached.
type viewDecision struct {
	version uint64
	fields  *viewFields
	allowed []bool
	rules   []string
}

// decisionCache is a bounded map of view decisions. A lookup takes only the
// read lock; entries from an older policy version are never returned (every
// change clears the map, and get compares versions, which covers a decision
// computed just before a change and stored just after it). When full, an
// arbitrary entry is evicted: random eviction needs no bookkeeping on hits,
// so hits stay read-only.
type decisionCache struct {
	mu  sync.RWMutex
	max int
	m   map[cacheKey]*viewDecision
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{max: max, m: make(map[cacheKey]*viewDecision)}
}

// get returns the entry for k if it was computed at version, else nil.
func (c *decisionCache) get(k cacheKey, version uint64) *viewDecision {
	c.mu.RLock()
	vd := c.m[k]
	c.mu.RUnlock()
	if vd == nil || vd.version != version {
		return nil
	}
	return vd
}

// put stores vd unless the policy has moved past its version.
func (c *decisionCache) put(k cacheKey, vd *viewDecision, current func() uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if vd.version != current() {
		return
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = vd
}

// invalidate drops every entry.
func (c *decisionCache) invalidate() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

func (c *decisionCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
