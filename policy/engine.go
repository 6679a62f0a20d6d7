package policy

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// Options configures Open. Start from DefaultOptions and refine with the
// With methods; each returns a modified copy.
type Options struct {
	cacheSize int
	jwt       *keyset.Handle
	now       func() time.Time
}

// DefaultOptions returns options with a decision cache of 4096 entries (one
// entry is one principal × view × action × purpose × environment), no JWT
// support and the system clock.
func DefaultOptions() Options {
	return Options{cacheSize: 4096, now: time.Now}
}

// WithCacheSize bounds the decision cache to n entries (n ≥ 1). When it is
// full, an arbitrary entry is evicted.
func (o Options) WithCacheSize(n int) Options { o.cacheSize = max(n, 1); return o }

// WithJWTKeyset enables JWTs: IssueJWT signs with h and Authenticate verifies
// with its public keyset. h must hold a private JWT signature key (ES256:
// keys.Keyring.NamedKeyset("jwt-signer", jwt.ES256Template())); the handle
// stays inside Tink and its key bytes are never seen here.
func (o Options) WithJWTKeyset(h *keyset.Handle) Options { o.jwt = h; return o }

// WithClock sets the clock used for creation times and JWT lifetimes (for
// tests).
func (o Options) WithClock(now func() time.Time) Options { o.now = now; return o }

// Engine is the access-control engine: principals and their tokens, the
// Casbin policy, and cached column decisions. It is safe for concurrent use.
//
// State lives in the kv.Store under "p/" (principals, token hashes, rules)
// and in memory; every change is written to the store first, in one atomic
// batch, then applied in memory. One Engine must own a store's "p/" keys: a
// second server on the same store sees another's changes only after Reload.
type Engine struct {
	store   kv.Store
	opts    Options
	adapter *Adapter
	jwt     *jwtCodec

	// writeMu serialises changes, so each one reads a state no one else is
	// changing and commits it with one kv batch.
	writeMu sync.Mutex

	// mu guards everything below; it is held for writing only while a
	// committed change is applied in memory, never during storage I/O.
	mu         sync.RWMutex
	enf        *casbin.Enforcer
	principals map[string]*principalRecord
	tokens     map[[sha256.Size]byte]string
	views      map[string]*viewFields
	identities map[string]IdentityMapping // by stored key (identities.go)

	// version counts policy changes; cached decisions carry the version
	// they were computed at and are used only while it is current.
	version atomic.Uint64
	cache   *decisionCache
}

// Open loads the policy, principals and tokens stored in s under "p/" and
// returns an Engine on them. s stays owned by the caller, who closes it after
// the last use of the Engine.
func Open(s kv.Store, o Options) (*Engine, error) {
	if o.now == nil {
		o.now = time.Now
	}
	if o.cacheSize < 1 {
		o.cacheSize = DefaultOptions().cacheSize
	}
	e := &Engine{
		store:   s,
		opts:    o,
		adapter: NewAdapter(s),
		cache:   newDecisionCache(o.cacheSize),
	}
	if o.jwt != nil {
		j, err := newJWTCodec(o.jwt)
		if err != nil {
			return nil, err
		}
		e.jwt = j
	}
	m, err := newModel()
	if err != nil {
		return nil, err
	}
	enf, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("policy: create Casbin enforcer: %w", err)
	}
	enf.SetAdapter(e.adapter)
	// The Engine persists every change itself (see Adapter); Casbin only
	// loads.
	enf.EnableAutoSave(false)
	e.enf = enf
	if err := e.loadLocked(); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload re-reads principals, tokens and rules from the store and
// invalidates every cached decision. A server that shares its store with
// other servers calls it when another one reports a change.
func (e *Engine) Reload() error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.loadLocked()
	e.bumpLocked()
	return err
}

// Version returns the policy version: a counter that grows on every change
// of rules, roles, principals or view groups. Decisions report the version
// they were made at, so an audit record can say which policy decided.
func (e *Engine) Version() uint64 { return e.version.Load() }

// loadLocked reads all state from the store; e.mu is held for writing (or e
// is not shared yet). On error the in-memory state is emptied, so that the
// engine denies everything rather than enforcing half a policy.
func (e *Engine) loadLocked() error {
	err := e.loadState()
	if err != nil {
		e.enf.ClearPolicy()
		e.principals = map[string]*principalRecord{}
		e.tokens = map[[sha256.Size]byte]string{}
		e.views = map[string]*viewFields{}
		e.identities = map[string]IdentityMapping{}
	}
	return err
}

func (e *Engine) loadState() error {
	if err := e.enf.LoadPolicy(); err != nil {
		return fmt.Errorf("policy: load rules: %w", err)
	}
	principals, err := loadPrincipals(e.store)
	if err != nil {
		return err
	}
	tokens, err := loadTokens(e.store, principals)
	if err != nil {
		return err
	}
	links, err := e.enf.GetNamedGroupingPolicy(ptypeRole)
	if err != nil {
		return fmt.Errorf("policy: read role links: %w", err)
	}
	for _, l := range links {
		if name, ok := cutUser(l[0]); ok {
			if rec := principals[name]; rec != nil {
				rec.roles = append(rec.roles, l[1])
			}
		}
	}
	for _, rec := range principals {
		rec.roles = sortedSet(rec.roles)
	}
	groups, err := e.enf.GetNamedGroupingPolicy(ptypeGroup)
	if err != nil {
		return fmt.Errorf("policy: read column groups: %w", err)
	}
	identities, err := loadIdentities(e.store)
	if err != nil {
		return err
	}
	e.principals, e.tokens, e.views, e.identities = principals, tokens, viewsFromGroups(groups), identities
	return nil
}

// commit writes ops to the store, then applies the change in memory with
// apply under the write lock and bumps the policy version. The caller holds
// writeMu. If apply fails after the store committed, the in-memory state is
// reloaded from the store, which is authoritative.
func (e *Engine) commit(ops []kv.Op, apply func() error) error {
	if len(ops) > 0 {
		if err := e.store.Apply(ops); err != nil {
			return fmt.Errorf("policy: store the change: %w", err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	err := apply()
	if err != nil {
		if lerr := e.loadLocked(); lerr != nil {
			err = errors.Join(err, lerr)
		}
	}
	e.bumpLocked()
	return err
}

// bumpLocked starts a new policy version and drops every cached decision.
// e.mu is held for writing.
func (e *Engine) bumpLocked() {
	e.version.Add(1)
	e.cache.invalidate()
}
