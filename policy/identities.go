package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/featurevault/featurevault/kv"
)

// IdentitySource says where an external identity comes from.
type IdentitySource string

// The sources of external identities.
const (
	// SourceOIDC is a JWT from a trusted OpenID Connect issuer, verified by
	// the server (signature, issuer, audience, lifetime) before its claims
	// are resolved here.
	SourceOIDC IdentitySource = "oidc"
	// SourceCert is a client certificate verified by the TLS handshake
	// against the server's client CAs.
	SourceCert IdentitySource = "cert"
)

// The claims of a certificate identity.
const (
	// CertClaimSPIFFE is a certificate's SPIFFE ID (its URI SAN,
	// spiffe://trust-domain/path).
	CertClaimSPIFFE = "spiffe_id"
	// CertClaimSubject is a certificate's subject distinguished name as Go
	// prints it (pkix.Name.String(), e.g. "CN=trainer,O=Example").
	CertClaimSubject = "subject"
)

// Limits on the parts of an identity mapping.
const (
	maxIssuerLen = 512
	maxClaimLen  = 128
	maxValueLen  = 1024
)

// IdentityMapping maps an external identity to FeatureVault's own terms.
// Exactly one of Principal, Role and Purposes is set:
//
//   - Principal: a caller whose Claim holds Value (a string claim equal to
//     it, or a list claim containing it) acts as that principal, with its
//     roles and attributes. A caller must map to exactly one principal.
//   - Role (OIDC only): a caller whose Claim holds Value gets Role for the
//     request, in addition to its principal's roles (a groups claim mapped
//     to roles).
//   - Purposes (OIDC only, Value empty): the issuer's Claim lists the
//     purposes a caller may state; it narrows the principal's purpose
//     attribute, never widens it. A token without the claim may state none.
//
// Mappings are stored in the policy store under "p/idmap/" and every
// change is a policy change (a new version, cached decisions dropped).
type IdentityMapping struct {
	Source IdentitySource `json:"source"`
	// Issuer is the OIDC issuer URL, exactly as the tokens' iss claim
	// spells it; empty for certificates.
	Issuer string `json:"issuer,omitempty"`
	// Claim is the claim to match: an OIDC claim name ("sub", "email",
	// "groups"), or CertClaimSPIFFE or CertClaimSubject.
	Claim string `json:"claim"`
	// Value is the claim value to match (empty for Purposes).
	Value     string `json:"value,omitempty"`
	Principal string `json:"principal,omitempty"`
	Role      string `json:"role,omitempty"`
	Purposes  bool   `json:"purposes,omitempty"`
}

// String describes m in one line, e.g. "oidc https://idp.example.com sub=248289 -> principal trainer".
func (m IdentityMapping) String() string {
	var b strings.Builder
	b.WriteString(string(m.Source))
	if m.Issuer != "" {
		b.WriteString(" " + m.Issuer)
	}
	b.WriteString(" " + m.Claim)
	if !m.Purposes {
		b.WriteString("=" + strconv.Quote(m.Value))
	}
	switch {
	case m.Principal != "":
		b.WriteString(" -> principal " + m.Principal)
	case m.Role != "":
		b.WriteString(" -> role " + m.Role)
	default:
		b.WriteString(" -> purposes")
	}
	return b.String()
}

var prefixIdentity = []byte("p/idmap/")

// target is what the mapping maps to, as it enters the key: a claim value
// maps to one principal, but may map to several roles.
func (m IdentityMapping) target() string {
	switch {
	case m.Principal != "":
		return "principal"
	case m.Role != "":
		return "role:" + m.Role
	}
	return "purposes"
}

// key is "p/idmap/" + hex(SHA-256 of the length-prefixed identity and
// target): unique per (source, issuer, claim, value, target), whatever
// bytes a claim value holds. A purposes mapping is one per issuer.
func (m IdentityMapping) key() []byte {
	h := sha256.New()
	parts := []string{string(m.Source), m.Issuer, m.Claim, m.Value, m.target()}
	if m.Purposes {
		parts = []string{string(m.Source), m.Issuer, "", "", m.target()}
	}
	for _, p := range parts {
		h.Write(binary.AppendUvarint(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return hex.AppendEncode(bytes.Clone(prefixIdentity), h.Sum(nil))
}

// normalize checks m and returns it in stored form (a SPIFFE ID parsed
// and printed back).
func (m IdentityMapping) normalize() (IdentityMapping, error) {
	bad := func(format string, a ...any) (IdentityMapping, error) {
		return IdentityMapping{}, fmt.Errorf("%w: identity mapping: %s", ErrInvalidMapping, fmt.Sprintf(format, a...))
	}
	n := 0
	for _, set := range []bool{m.Principal != "", m.Role != "", m.Purposes} {
		if set {
			n++
		}
	}
	if n != 1 {
		return bad("map to exactly one of a principal, a role or the purposes claim")
	}
	if m.Principal != "" {
		if err := validName(kindPrincipal, m.Principal); err != nil {
			return IdentityMapping{}, err
		}
	}
	if m.Role != "" {
		if err := validName(kindRole, m.Role); err != nil {
			return IdentityMapping{}, err
		}
	}
	switch m.Source {
	case SourceOIDC:
		if err := validIssuer(m.Issuer); err != nil {
			return bad("%v", err)
		}
		if m.Claim == "" || len(m.Claim) > maxClaimLen || strings.IndexFunc(m.Claim, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
			return bad("the claim must be a claim name such as sub, email or groups (printable ASCII, no spaces, at most %d bytes)", maxClaimLen)
		}
	case SourceCert:
		if m.Issuer != "" {
			return bad("a certificate mapping has no issuer: the server's client CAs (--tls-client-ca) decide which certificates are trusted")
		}
		if m.Role != "" || m.Purposes {
			return bad("a certificate maps to a principal only")
		}
		switch m.Claim {
		case CertClaimSPIFFE:
			id, err := spiffeid.FromString(m.Value)
			if err != nil {
				return bad("%q is not a SPIFFE ID (spiffe://trust-domain/path): %v", m.Value, err)
			}
			m.Value = id.String()
		case CertClaimSubject:
		default:
			return bad("a certificate is matched by %s or %s, not %q", CertClaimSPIFFE, CertClaimSubject, m.Claim)
		}
	default:
		return bad("source must be %s or %s, not %q", SourceOIDC, SourceCert, m.Source)
	}
	if m.Purposes {
		if m.Value != "" {
			return bad("a purposes mapping names a claim and no value: the claim's values are the purposes")
		}
		return m, nil
	}
	if m.Value == "" || len(m.Value) > maxValueLen || !utf8.ValidString(m.Value) || strings.IndexFunc(m.Value, unicode.IsControl) >= 0 {
		return bad("the value must be non-empty text without control characters, at most %d bytes", maxValueLen)
	}
	return m, nil
}

// validIssuer accepts an absolute https URL, or http on a loopback host
// (for development and tests), without query or fragment.
func validIssuer(s string) error {
	if s == "" || len(s) > maxIssuerLen {
		return fmt.Errorf("the issuer must be its URL (https://...), at most %d bytes", maxIssuerLen)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("the issuer %q is not an absolute URL without query or fragment; give it exactly as the tokens' iss claim spells it", s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		return fmt.Errorf("the issuer %q must use https (http only on a loopback host)", s)
	}
	return nil
}

// ValidIssuer reports whether s is an acceptable OIDC issuer URL: https,
// or http on a loopback host only.
func ValidIssuer(s string) error {
	if err := validIssuer(s); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMapping, err)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

func (m IdentityMapping) op() (kv.Op, error) {
	v, err := json.Marshal(m)
	if err != nil {
		return kv.Op{}, fmt.Errorf("policy: encode identity mapping: %w", err)
	}
	return kv.Op{Key: m.key(), Value: v}, nil
}

func loadIdentities(s kv.Store) (map[string]IdentityMapping, error) {
	out := map[string]IdentityMapping{}
	err := s.Scan(prefixIdentity, func(e kv.Entry) error {
		var m IdentityMapping
		if err := json.Unmarshal(e.Value, &m); err != nil {
			return fmt.Errorf("%w: identity mapping at key %q does not decode", ErrStoreDamaged, e.Key)
		}
		n, err := m.normalize()
		if err != nil || n != m || !bytes.Equal(m.key(), e.Key) {
			return fmt.Errorf("%w: identity mapping at key %q is invalid or does not match its key", ErrStoreDamaged, e.Key)
		}
		out[string(e.Key)] = m
		return nil
	})
	return out, err
}

// MapIdentity stores an identity mapping (see IdentityMapping). A
// principal mapping needs an active principal, and a claim value maps to
// one principal only: to move it, UnmapIdentity first. Storing a mapping
// that exists does nothing. The change applies to the next request.
func (e *Engine) MapIdentity(m IdentityMapping) error {
	m, err := m.normalize()
	if err != nil {
		return err
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if m.Principal != "" {
		rec := e.principals[m.Principal]
		if rec == nil {
			return fmt.Errorf("%w: %s; create it first (featurevault principal create)", ErrPrincipalNotFound, quote(m.Principal))
		}
		if rec.Revoked {
			return fmt.Errorf("%w: %s cannot be mapped to", ErrPrincipalRevoked, quote(m.Principal))
		}
	}
	k := string(m.key())
	e.mu.RLock()
	old, ok := e.identities[k]
	e.mu.RUnlock()
	if ok {
		if old == m {
			return nil
		}
		return fmt.Errorf("%w: %s is already mapped (%s); unmap it first", ErrMappingExists, m.identity(), old)
	}
	op, err := m.op()
	if err != nil {
		return err
	}
	return e.commit([]kv.Op{op}, func() error {
		e.identities[k] = m
		return nil
	})
}

// UnmapIdentity removes a mapping; ErrMappingNotFound when none matches
// (for a principal mapping, the principal must match too).
func (e *Engine) UnmapIdentity(m IdentityMapping) error {
	m, err := m.normalize()
	if err != nil {
		return err
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	k := string(m.key())
	e.mu.RLock()
	old, ok := e.identities[k]
	e.mu.RUnlock()
	if !ok || old != m {
		return fmt.Errorf("%w: %s; list them with featurevault principal mappings", ErrMappingNotFound, m)
	}
	return e.commit([]kv.Op{{Key: []byte(k), Delete: true}}, func() error {
		delete(e.identities, k)
		return nil
	})
}

// ListIdentityMappings returns every identity mapping, sorted by source,
// issuer, claim, value and target.
func (e *Engine) ListIdentityMappings() []IdentityMapping {
	e.mu.RLock()
	out := make([]IdentityMapping, 0, len(e.identities))
	for _, m := range e.identities {
		out = append(out, m)
	}
	e.mu.RUnlock()
	slices.SortFunc(out, func(a, b IdentityMapping) int {
		return strings.Compare(a.sortKey(), b.sortKey())
	})
	return out
}

func (m IdentityMapping) sortKey() string {
	return strings.Join([]string{string(m.Source), m.Issuer, m.Claim, m.Value, m.target()}, "\x00")
}

// identity describes the identity side of m (no target).
func (m IdentityMapping) identity() string {
	if m.Purposes {
		return fmt.Sprintf("the purposes claim of %s", m.Issuer)
	}
	if m.Issuer != "" {
		return fmt.Sprintf("%s %s %s=%q", m.Source, m.Issuer, m.Claim, m.Value)
	}
	return fmt.Sprintf("%s %s=%q", m.Source, m.Claim, m.Value)
}

// ResolveOIDC returns the principal a verified OIDC token maps to, with
// the roles its role mappings grant (Principal.IdPRoles) and, when the
// issuer has a purposes mapping, the purposes it may state
// (Principal.Purposes). claims are the token's claims as decoded JSON; the
// caller has verified the token's signature, issuer, audience and
// lifetime. It returns ErrUnmappedIdentity when no principal mapping
// matches, or when several principals do (ambiguous identities are
// refused, not guessed), and ErrUnauthenticated when the principal was
// revoked. Errors name the issuer and the subject, never a token.
func (e *Engine) ResolveOIDC(issuer string, claims map[string]any) (Principal, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var names, roles []string
	purposeClaim := ""
	for _, m := range e.identities {
		if m.Source != SourceOIDC || m.Issuer != issuer {
			continue
		}
		if m.Purposes {
			purposeClaim = m.Claim
			continue
		}
		if !claimHolds(claims[m.Claim], m.Value) {
			continue
		}
		if m.Principal != "" {
			names = append(names, m.Principal)
		} else {
			roles = append(roles, m.Role)
		}
	}
	sub, _ := claims["sub"].(string)
	p, err := e.mappedLocked(names, fmt.Sprintf("the OIDC identity (issuer %s, subject %q)", issuer, sub),
		fmt.Sprintf("featurevault principal map-oidc --issuer %s --claim sub --value %q --principal NAME", issuer, sub))
	if err != nil {
		return Principal{}, err
	}
	p.IdPRoles = sortedSet(roles)
	if purposeClaim != "" {
		p.Purposes = claimStrings(claims[purposeClaim])
	}
	return p, nil
}

// ResolveCert returns the principal a verified client certificate maps
// to: by its SPIFFE ID when it has one and a mapping names it, else by
// its subject. spiffeID may be empty. Errors are as for ResolveOIDC.
func (e *Engine) ResolveCert(spiffeID, subject string) (Principal, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var names []string
	for _, claim := range []struct{ name, value string }{{CertClaimSPIFFE, spiffeID}, {CertClaimSubject, subject}} {
		if claim.value == "" {
			continue
		}
		for _, m := range e.identities {
			if m.Source == SourceCert && m.Claim == claim.name && m.Value == claim.value {
				names = append(names, m.Principal)
			}
		}
		if len(names) > 0 {
			break
		}
	}
	what, fix := fmt.Sprintf("the client certificate (subject %q)", subject), fmt.Sprintf("featurevault principal map-cert --subject %q --principal NAME", subject)
	if spiffeID != "" {
		what, fix = fmt.Sprintf("the client certificate %s", spiffeID), fmt.Sprintf("featurevault principal map-cert --spiffe-id %s --principal NAME", spiffeID)
	}
	return e.mappedLocked(names, what, fix)
}

// mappedLocked picks the one principal names (the principal mappings that
// matched) agree on; e.mu is held.
func (e *Engine) mappedLocked(names []string, what, fix string) (Principal, error) {
	names = sortedSet(names)
	switch len(names) {
	case 0:
		return Principal{}, fmt.Errorf("%w: %s maps to no principal; an admin maps it with %s", ErrUnmappedIdentity, what, fix)
	case 1:
	default:
		return Principal{}, fmt.Errorf("%w: %s maps to several principals (%s); remove all but one mapping", ErrUnmappedIdentity, what, strings.Join(names, ", "))
	}
	rec := e.principals[names[0]]
	if rec == nil || rec.Revoked {
		return Principal{}, ErrUnauthenticated
	}
	return rec.principal(), nil
}

// claimHolds reports whether a decoded JSON claim equals want, or is a
// list holding it. Numbers and booleans compare in their JSON spelling.
func claimHolds(v any, want string) bool {
	return slices.Contains(claimStrings(v), want)
}

// claimStrings returns a claim's values as strings: a string, a number or
// a boolean is one value, a list its elements (of those kinds), a
// space-separated string (the OAuth scope style) is not split.
func claimStrings(v any) []string {
	one := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case float64:
			return strconv.FormatFloat(t, 'f', -1, 64), true
		case json.Number:
			return t.String(), true
		case bool:
			return strconv.FormatBool(t), true
		}
		return "", false
	}
	if l, ok := v.([]any); ok {
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := one(x); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if s, ok := one(v); ok {
		return []string{s}
	}
	return []string{}
}
