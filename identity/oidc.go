package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/featurevault/featurevault/policy"
)

// Sentinel errors. Every refusal of a token wraps ErrInvalidToken with a
// message that says what was wrong and never quotes the token.
var (
	// ErrInvalidToken: the token is not a JWT this server accepts.
	ErrInvalidToken = errors.New("identity: OIDC token refused")
	// ErrIssuerUnavailable: the issuer's discovery document or key set
	// could not be fetched, so no token of it can be checked now.
	ErrIssuerUnavailable = errors.New("identity: OIDC issuer unavailable")
	// ErrConfig: NewOIDC was given an unusable issuer list.
	ErrConfig = errors.New("identity: invalid OIDC configuration")
)

// DefaultAlgorithms are the signing algorithms accepted by default: the
// asymmetric ones issuers use. "none" and the HMACs (HS256...) are never
// accepted, whatever Options say: an HMAC "signed" with an issuer's public
// key would otherwise verify.
var DefaultAlgorithms = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA}

// Defaults of Options.
const (
	// DefaultClockSkew is the tolerance on exp, nbf and iat: a token is
	// accepted up to this long after it expired, and from this long before
	// it becomes valid.
	DefaultClockSkew = 30 * time.Second
	// DefaultKeySetMaxAge is how long a fetched key set is used before it
	// is fetched again even if every key id is known.
	DefaultKeySetMaxAge = 10 * time.Minute
	// MaxTokenLen bounds a token; longer ones are refused unread.
	MaxTokenLen = 16 << 10
)

// Issuer is one trusted OIDC issuer: its URL, exactly as its tokens' iss
// claim spells it, and the audience its tokens must name (the client id
// FeatureVault is registered as, or the API identifier).
type Issuer struct {
	URL      string
	Audience string
}

// Options configures NewOIDC. Start from DefaultOptions; each With method
// returns a modified copy.
type Options struct {
	clockSkew    time.Duration
	keySetMaxAge time.Duration
	algorithms   []string
	now          func() time.Time
	client       *http.Client
}

// DefaultOptions returns DefaultClockSkew, DefaultKeySetMaxAge,
// DefaultAlgorithms, the system clock and an HTTP client with a 10 s
// timeout.
func DefaultOptions() Options {
	return Options{
		clockSkew: DefaultClockSkew, keySetMaxAge: DefaultKeySetMaxAge, algorithms: DefaultAlgorithms,
		now: time.Now, client: &http.Client{Timeout: 10 * time.Second},
	}
}

// WithClockSkew sets the tolerance on exp, nbf and iat (0 to 5 minutes).
func (o Options) WithClockSkew(d time.Duration) Options { o.clockSkew = d; return o }

// WithKeySetMaxAge sets how long a fetched key set is trusted (at least
// one second).
func (o Options) WithKeySetMaxAge(d time.Duration) Options { o.keySetMaxAge = d; return o }

// WithAlgorithms narrows the accepted signing algorithms; names outside
// DefaultAlgorithms make NewOIDC fail.
func (o Options) WithAlgorithms(algs ...string) Options { o.algorithms = algs; return o }

// WithClock sets the clock lifetimes are checked against (tests).
func (o Options) WithClock(now func() time.Time) Options { o.now = now; return o }

// WithHTTPClient sets the client discovery and key sets are fetched with.
func (o Options) WithHTTPClient(c *http.Client) Options { o.client = c; return o }

// Claims is what a verified token says about its bearer.
type Claims struct {
	Issuer  string
	Subject string
	// All holds every claim as decoded JSON (numbers as json.Number).
	All map[string]any
}

// OIDC verifies JWTs from a fixed set of trusted issuers. It is safe for
// concurrent use.
type OIDC struct {
	opts    Options
	issuers map[string]*issuerState
}

// NewOIDC returns a verifier trusting issuers. It does no network I/O:
// each issuer is discovered on its first token, so a server starts while
// its identity provider is down (its tokens are refused with
// ErrIssuerUnavailable meanwhile).
func NewOIDC(issuers []Issuer, o Options) (*OIDC, error) {
	if len(issuers) == 0 {
		return nil, fmt.Errorf("%w: no issuer", ErrConfig)
	}
	if o.clockSkew < 0 || o.clockSkew > 5*time.Minute {
		return nil, fmt.Errorf("%w: clock skew %v; use 0 to 5m", ErrConfig, o.clockSkew)
	}
	if o.keySetMaxAge < time.Second {
		return nil, fmt.Errorf("%w: key set max age %v; use at least 1s", ErrConfig, o.keySetMaxAge)
	}
	if len(o.algorithms) == 0 {
		return nil, fmt.Errorf("%w: no signing algorithm", ErrConfig)
	}
	for _, a := range o.algorithms {
		if !slices.Contains(DefaultAlgorithms, a) {
			return nil, fmt.Errorf("%w: signing algorithm %q is not accepted; choose from %s", ErrConfig, a, strings.Join(DefaultAlgorithms, ", "))
		}
	}
	if o.now == nil || o.client == nil {
		return nil, fmt.Errorf("%w: start from DefaultOptions", ErrConfig)
	}
	v := &OIDC{opts: o, issuers: map[string]*issuerState{}}
	for _, is := range issuers {
		if err := policy.ValidIssuer(is.URL); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		if is.Audience == "" {
			return nil, fmt.Errorf("%w: issuer %s has no audience; give the audience its tokens carry for this server (--oidc-audience)", ErrConfig, is.URL)
		}
		if v.issuers[is.URL] != nil {
			return nil, fmt.Errorf("%w: issuer %s is given twice", ErrConfig, is.URL)
		}
		v.issuers[is.URL] = &issuerState{cfg: is, opts: &v.opts}
	}
	return v, nil
}

// Issuers returns the trusted issuers' URLs, sorted.
func (v *OIDC) Issuers() []string {
	out := make([]string, 0, len(v.issuers))
	for u := range v.issuers {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// Handles reports whether token looks like a JWT naming one of the trusted
// issuers, without verifying anything: the server uses it to route a
// bearer token to this verifier rather than to its own token check.
func (v *OIDC) Handles(token string) bool {
	_, payload, ok := splitJWT(token)
	if !ok {
		return false
	}
	return v.issuers[payload.Issuer] != nil
}

// Verify checks token and returns its claims: the algorithm against the
// allow-list, the issuer against the trusted ones, the signature against
// the issuer's published keys, the audience, and exp (required), nbf and
// iat against the clock with the configured skew. Errors wrap
// ErrInvalidToken (or ErrIssuerUnavailable) and never quote the token.
func (v *OIDC) Verify(ctx context.Context, token string) (Claims, error) {
	refuse := func(format string, a ...any) (Claims, error) {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, a...))
	}
	if len(token) > MaxTokenLen {
		return refuse("the token is longer than %d bytes", MaxTokenLen)
	}
	header, payload, ok := splitJWT(token)
	if !ok {
		return refuse("the token is not a signed JWT (three base64url parts with JSON header and claims)")
	}
	if !slices.Contains(v.opts.algorithms, header.Alg) {
		return refuse("the token's signing algorithm %s is not accepted; this server accepts %s", printable(header.Alg), strings.Join(v.opts.algorithms, ", "))
	}
	st := v.issuers[payload.Issuer]
	if st == nil {
		return refuse("the token's issuer %s is not trusted by this server; it trusts %s (--oidc-issuer)", printable(payload.Issuer), strings.Join(v.Issuers(), ", "))
	}
	verifier, err := st.verifier(ctx)
	if err != nil {
		return Claims{}, err
	}
	tok, err := verifier.Verify(ctx, token)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "expected audience"):
			return refuse("the token's audience does not include %s, the audience this server expects from %s", printable(st.cfg.Audience), st.cfg.URL)
		case strings.Contains(msg, errKeySetFetch):
			return Claims{}, fmt.Errorf("%w: the key set of %s could not be fetched; retry shortly", ErrIssuerUnavailable, st.cfg.URL)
		case strings.Contains(msg, "signature"):
			return refuse("the token's signature does not verify with any key %s publishes (an unknown or retired key id, or a forged token)", st.cfg.URL)
		}
		return refuse("the token is malformed")
	}
	var raw json.RawMessage
	if err := tok.Claims(&raw); err != nil {
		return refuse("the token's claims do not decode")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var all map[string]any
	if err := d.Decode(&all); err != nil {
		return refuse("the token's claims do not decode")
	}
	if err := v.checkTimes(all); err != nil {
		return Claims{}, err
	}
	if tok.Subject == "" {
		return refuse("the token has no sub claim")
	}
	return Claims{Issuer: tok.Issuer, Subject: tok.Subject, All: all}, nil
}

// checkTimes checks exp, nbf and iat with the clock skew.
func (v *OIDC) checkTimes(all map[string]any) error {
	now := v.opts.now()
	skew := v.opts.clockSkew
	get := func(name string) (time.Time, bool, error) {
		x, ok := all[name]
		if !ok {
			return time.Time{}, false, nil
		}
		n, ok := x.(json.Number)
		if !ok {
			return time.Time{}, true, fmt.Errorf("%w: the token's %s claim is not a number of seconds", ErrInvalidToken, name)
		}
		f, err := n.Float64()
		if err != nil || f < 0 || f > 1e11 {
			return time.Time{}, true, fmt.Errorf("%w: the token's %s claim is not a time", ErrInvalidToken, name)
		}
		return time.Unix(int64(f), 0), true, nil
	}
	exp, ok, err := get("exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("%w: the token has no exp claim; this server accepts only tokens that expire", ErrInvalidToken)
	case !now.Before(exp.Add(skew)):
		return fmt.Errorf("%w: the token expired at %s (clock skew allowed: %v); get a new one from the identity provider", ErrInvalidToken, exp.UTC().Format(time.RFC3339), skew)
	}
	if nbf, ok, err := get("nbf"); err != nil {
		return err
	} else if ok && now.Add(skew).Before(nbf) {
		return fmt.Errorf("%w: the token is not valid before %s (clock skew allowed: %v); check the clocks", ErrInvalidToken, nbf.UTC().Format(time.RFC3339), skew)
	}
	if iat, ok, err := get("iat"); err != nil {
		return err
	} else if ok && now.Add(skew).Before(iat) {
		return fmt.Errorf("%w: the token was issued in the future, at %s (clock skew allowed: %v); check the clocks", ErrInvalidToken, iat.UTC().Format(time.RFC3339), skew)
	}
	return nil
}

// issuerState is one trusted issuer: discovered lazily, then cached.
type issuerState struct {
	cfg  Issuer
	opts *Options

	mu       sync.Mutex
	ready    *oidc.IDTokenVerifier
	lastFail time.Time
}

// discoveryRetry is how long after a failed discovery the next token may
// try again.
const discoveryRetry = 5 * time.Second

func (s *issuerState) verifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready != nil {
		return s.ready, nil
	}
	now := time.Now()
	if !s.lastFail.IsZero() && now.Sub(s.lastFail) < discoveryRetry {
		return nil, fmt.Errorf("%w: %s could not be reached a moment ago; retry shortly", ErrIssuerUnavailable, s.cfg.URL)
	}
	// Discovery serves every later request: fetch with a context that is
	// never cancelled, bounded by the client's timeout.
	bg := oidc.ClientContext(context.WithoutCancel(ctx), s.opts.client)
	p, err := oidc.NewProvider(bg, s.cfg.URL)
	if err != nil {
		s.lastFail = now
		return nil, fmt.Errorf("%w: discovery at %s/.well-known/openid-configuration failed: %v", ErrIssuerUnavailable, s.cfg.URL, err)
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURL == "" {
		s.lastFail = now
		return nil, fmt.Errorf("%w: the discovery document of %s names no jwks_uri", ErrIssuerUnavailable, s.cfg.URL)
	}
	keys := newKeySet(meta.JWKSURL, *s.opts)
	s.ready = oidc.NewVerifier(s.cfg.URL, keys, &oidc.Config{
		ClientID:             s.cfg.Audience,
		SupportedSigningAlgs: s.opts.algorithms,
		// Lifetimes are checked by checkTimes, with the stated skew.
		SkipExpiryCheck: true,
	})
	return s.ready, nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
}

type jwtPayload struct {
	Issuer string `json:"iss"`
}

// splitJWT decodes a compact JWS's header and the issuer of its payload,
// unverified.
func splitJWT(token string) (jwtHeader, jwtPayload, bool) {
	var h jwtHeader
	var p jwtPayload
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > MaxTokenLen {
		return h, p, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(pb, &p) != nil {
		return h, p, false
	}
	return h, p, true
}

// printable quotes s for a message when it is short printable ASCII (an
// algorithm name, an issuer URL), and otherwise says only that it is not.
func printable(s string) string {
	if len(s) == 0 {
		return `""`
	}
	if len(s) > 200 || strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
		return "(unprintable)"
	}
	return fmt.Sprintf("%q", s)
}
