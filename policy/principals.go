package policy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/featurevault/featurevault/kv"
)

// Attribute names the engine enforces. Other attributes are stored and
// returned but decide nothing.
const (
	// AttrPurpose lists the purposes a principal may claim in a request.
	// A principal without it may claim any purpose.
	AttrPurpose = "purpose"
	// AttrEnv lists the environments a principal may act in. A principal
	// without it may act in any environment.
	AttrEnv = "env"
)

// BootstrapAdmin is the name of the principal, and of the role,
// EnsureBootstrapAdmin creates.
const BootstrapAdmin = "admin"

// Principal is an authenticated caller: a person or a service. Values are
// copies; changing one changes nothing stored.
type Principal struct {
	Name string
	// Roles are the roles assigned directly (sorted); inherited roles are
	// resolved by the policy.
	Roles []string
	// Attrs are attributes such as purpose: [training analytics] and
	// env: [prod]. Only AttrPurpose and AttrEnv are enforced.
	Attrs     map[string][]string
	Revoked   bool
	CreatedAt time.Time
	RevokedAt time.Time // zero unless Revoked
	// IdPRoles are roles an identity provider grants for one request
	// through role mappings (an OIDC groups claim, see IdentityMapping):
	// Decide adds them to the principal's own. Empty for the store's own
	// tokens and for certificates.
	IdPRoles []string
	// Purposes, when not nil, narrows the purposes a request may state to
	// those the identity provider listed (an OIDC purposes claim mapping);
	// the principal's purpose attribute still applies. Nil: no narrowing.
	Purposes []string
}

// principalRecord is what is stored under "p/principal/NAME" (JSON). It
// holds SHA-256 hashes of the principal's bearer tokens, never a token.
type principalRecord struct {
	Name        string              `json:"name"`
	ID          string              `json:"id"` // random; binds JWTs to this principal
	Attrs       map[string][]string `json:"attrs,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
	Revoked     bool                `json:"revoked,omitempty"`
	RevokedAt   time.Time           `json:"revoked_at,omitzero"`
	TokenHashes []string            `json:"token_hashes,omitempty"` // hex SHA-256 of each token

	roles  []string            // direct roles, from g links; memory only
	hashes [][sha256.Size]byte // decoded TokenHashes; memory only
}

var prefixPrincipal = []byte("p/principal/")

func principalKey(name string) []byte {
	return append(bytes.Clone(prefixPrincipal), name...)
}

func (r *principalRecord) principal() Principal {
	p := Principal{
		Name:      r.Name,
		Roles:     slices.Clone(r.roles),
		Revoked:   r.Revoked,
		CreatedAt: r.CreatedAt,
		RevokedAt: r.RevokedAt,
	}
	if len(r.Attrs) > 0 {
		p.Attrs = make(map[string][]string, len(r.Attrs))
		for k, v := range r.Attrs {
			p.Attrs[k] = slices.Clone(v)
		}
	}
	return p
}

func (r *principalRecord) clone() *principalRecord {
	c := *r
	c.TokenHashes = slices.Clone(r.TokenHashes)
	c.roles = slices.Clone(r.roles)
	c.hashes = slices.Clone(r.hashes)
	return &c
}

func (r *principalRecord) op() (kv.Op, error) {
	v, err := json.Marshal(r)
	if err != nil {
		return kv.Op{}, fmt.Errorf("policy: encode principal %s: %w", quote(r.Name), err)
	}
	return kv.Op{Key: principalKey(r.Name), Value: v}, nil
}

// mayClaim checks a request's purpose and environment against the
// principal's attributes.
func (r *principalRecord) mayClaim(purpose, env string) error {
	if allowed, ok := r.Attrs[AttrPurpose]; ok && !slices.Contains(allowed, purpose) {
		return fmt.Errorf("%w: principal %s may not claim purpose %s; it may claim %s",
			ErrPurposeNotAllowed, quote(r.Name), quote(purpose), strings.Join(allowed, ", "))
	}
	if allowed, ok := r.Attrs[AttrEnv]; ok && !slices.Contains(allowed, env) {
		return fmt.Errorf("%w: principal %s may not act in environment %s; it may act in %s",
			ErrEnvNotAllowed, quote(r.Name), quote(env), strings.Join(allowed, ", "))
	}
	return nil
}

func loadPrincipals(s kv.Store) (map[string]*principalRecord, error) {
	out := map[string]*principalRecord{}
	err := s.Scan(prefixPrincipal, func(e kv.Entry) error {
		var r principalRecord
		if err := json.Unmarshal(e.Value, &r); err != nil {
			return fmt.Errorf("%w: principal at key %q does not decode", ErrStoreDamaged, e.Key)
		}
		if !bytes.Equal(principalKey(r.Name), e.Key) {
			return fmt.Errorf("%w: principal at key %q does not match its key", ErrStoreDamaged, e.Key)
		}
		if err := validName(kindPrincipal, r.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrStoreDamaged, err)
		}
		if err := validAttrs(r.Attrs); err != nil {
			return fmt.Errorf("%w: principal %s: %v", ErrStoreDamaged, quote(r.Name), err)
		}
		for _, h := range r.TokenHashes {
			var b [sha256.Size]byte
			if n, err := hex.Decode(b[:], []byte(h)); err != nil || n != sha256.Size {
				return fmt.Errorf("%w: principal %s has a malformed token hash", ErrStoreDamaged, quote(r.Name))
			}
			r.hashes = append(r.hashes, b)
		}
		out[r.Name] = &r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreatePrincipal creates a principal with the given direct roles and
// attributes and returns its first bearer token. The token is shown only
// here: the store keeps its SHA-256 hash, so a lost token cannot be
// recovered, only replaced (IssueToken) or revoked with the principal.
//
// Every name is validated (see ErrInvalidName). Names are never reused: a
// revoked principal's name is taken for good (ErrPrincipalExists). attrs may
// hold AttrPurpose and AttrEnv, which Decide enforces; values follow the
// strict name pattern.
func (e *Engine) CreatePrincipal(name string, roles []string, attrs map[string][]string) (token string, err error) {
	if err := validName(kindPrincipal, name); err != nil {
		return "", err
	}
	roles = slices.Clone(roles)
	for _, r := range roles {
		if err := validName(kindRole, r); err != nil {
			return "", err
		}
	}
	roles = sortedSet(roles)
	if err := validAttrs(attrs); err != nil {
		return "", err
	}

	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return e.createPrincipalLocked(name, roles, attrs, nil)
}

// createPrincipalLocked creates a principal and commits it together with
// extra ops (the bootstrap rules). The caller holds writeMu and has
// validated every name.
func (e *Engine) createPrincipalLocked(name string, roles []string, attrs map[string][]string, extra []rulePart) (string, error) {
	if old := e.principals[name]; old != nil {
		if old.Revoked {
			return "", fmt.Errorf("%w: %s was revoked and names are never reused; choose another name", ErrPrincipalExists, quote(name))
		}
		return "", fmt.Errorf("%w: %s; use role assign to change its roles", ErrPrincipalExists, quote(name))
	}
	token, hash, err := newToken()
	if err != nil {
		return "", err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("policy: read random principal id: %w", err)
	}
	rec := &principalRecord{
		Name:        name,
		ID:          hex.EncodeToString(id),
		CreatedAt:   e.opts.now().UTC(),
		TokenHashes: []string{hex.EncodeToString(hash[:])},
		roles:       roles,
		hashes:      [][sha256.Size]byte{hash},
	}
	if len(attrs) > 0 {
		rec.Attrs = make(map[string][]string, len(attrs))
		for k, v := range attrs {
			rec.Attrs[k] = sortedSet(slices.Clone(v))
		}
	}
	op, err := rec.op()
	if err != nil {
		return "", err
	}
	ops := []kv.Op{op, tokenOp(hash, name)}
	parts := extra
	for _, r := range roles {
		parts = append(parts, rulePart{ptypeRole, []string{userSubject(name), r}})
	}
	for _, p := range parts {
		op, err := ruleSetOp(p.ptype, p.rule)
		if err != nil {
			return "", err
		}
		ops = append(ops, op)
	}
	err = e.commit(ops, func() error {
		e.principals[name] = rec
		e.tokens[hash] = name
		return e.addRulesLocked(parts)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// Principal returns the principal called name, revoked or not.
func (e *Engine) Principal(name string) (Principal, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	rec := e.principals[name]
	if rec == nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrPrincipalNotFound, quote(name))
	}
	return rec.principal(), nil
}

// ListPrincipals returns every principal, revoked ones included, sorted by
// name.
func (e *Engine) ListPrincipals() []Principal {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Principal, 0, len(e.principals))
	for _, name := range slices.Sorted(maps.Keys(e.principals)) {
		out = append(out, e.principals[name].principal())
	}
	return out
}

// RevokePrincipal revokes a principal for good: its bearer tokens are
// forgotten, its JWTs are refused, its role links are removed, and the next
// Authenticate or Decide for it fails (cached decisions are invalidated).
// The record stays, so that the name is never reused and audit records keep
// their meaning. Revoking a revoked principal does nothing.
func (e *Engine) RevokePrincipal(name string) error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	old := e.principals[name]
	if old == nil {
		return fmt.Errorf("%w: %s", ErrPrincipalNotFound, quote(name))
	}
	if old.Revoked {
		return nil
	}
	rec := old.clone()
	rec.Revoked = true
	rec.RevokedAt = e.opts.now().UTC()
	rec.TokenHashes, rec.hashes, rec.roles = nil, nil, nil
	op, err := rec.op()
	if err != nil {
		return err
	}
	ops := []kv.Op{op}
	for _, h := range old.hashes {
		ops = append(ops, kv.Op{Key: tokenKey(h), Delete: true})
	}
	var links []rulePart
	for _, r := range old.roles {
		links = append(links, rulePart{ptypeRole, []string{userSubject(name), r}})
		ops = append(ops, ruleDeleteOp(ptypeRole, []string{userSubject(name), r}))
	}
	return e.commit(ops, func() error {
		e.principals[name] = rec
		for _, h := range old.hashes {
			delete(e.tokens, h)
		}
		return e.removeRulesLocked(links)
	})
}

// EnsureBootstrapAdmin creates the first principal when there is none:
// principal "admin" with role "admin", and rules that give role admin the
// admin and backup actions on every object plus read and write on every
// column, for every purpose and environment. It returns the new principal's bearer
// token, which the server writes to admin.token (mode 0600) in its data
// directory, or "" when a principal already exists (a restart).
func (e *Engine) EnsureBootstrapAdmin() (string, error) {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if len(e.principals) > 0 {
		return "", nil
	}
	var rules []rulePart
	for _, a := range []Action{ActionAdmin, ActionBackup, ActionRead, ActionWrite} {
		r := Rule{Role: BootstrapAdmin, Action: a, Object: Wildcard}.normalize()
		rules = append(rules, rulePart{ptypeRule, r.casbin()})
	}
	return e.createPrincipalLocked(BootstrapAdmin, []string{BootstrapAdmin}, nil, rules)
}

// rulePart is one Casbin rule with its policy type.
type rulePart struct {
	ptype string
	rule  []string
}

// addRulesLocked adds rules to the enforcer; e.mu is held for writing.
// Rules already present are skipped.
func (e *Engine) addRulesLocked(parts []rulePart) error {
	for _, p := range parts {
		var err error
		if p.ptype == ptypeRule {
			_, err = e.enf.AddNamedPolicy(p.ptype, p.rule)
		} else {
			_, err = e.enf.AddNamedGroupingPolicy(p.ptype, p.rule)
		}
		if err != nil {
			return fmt.Errorf("policy: add rule to the enforcer: %w", err)
		}
	}
	return nil
}

// removeRulesLocked removes rules from the enforcer; e.mu is held for
// writing. Absent rules are skipped.
func (e *Engine) removeRulesLocked(parts []rulePart) error {
	for _, p := range parts {
		var err error
		if p.ptype == ptypeRule {
			_, err = e.enf.RemoveNamedPolicy(p.ptype, p.rule)
		} else {
			_, err = e.enf.RemoveNamedGroupingPolicy(p.ptype, p.rule)
		}
		if err != nil {
			return fmt.Errorf("policy: remove rule from the enforcer: %w", err)
		}
	}
	return nil
}

func cutUser(sub string) (string, bool) { return strings.CutPrefix(sub, userPrefix) }

// sortedSet sorts s in place and drops duplicates.
func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
