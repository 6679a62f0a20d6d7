package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/tink-crypto/tink-go/v2/jwt"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// MaxJWTTTL is the longest lifetime IssueJWT grants. JWTs are checked
// against the principal record on every use, so revocation is immediate
// anyway; the bound limits what a leaked token is worth if the store is
// rolled back.
const MaxJWTTTL = 24 * time.Hour

// JWT claims. iss and aud are fixed so that a JWT signed by the same key for
// another purpose is not accepted; fv_pid binds the JWT to the principal's
// random record id, so it can never authenticate a later principal of the
// same name (names are not reused either: defence in depth).
const (
	jwtIssuer     = "featurevault"
	jwtAudience   = "featurevault"
	jwtTypeHeader = "JWT"
	claimPID      = "fv_pid"
	jwtClockSkew  = 30 * time.Second
)

type jwtCodec struct {
	signer   jwt.Signer
	verifier jwt.Verifier

	// verified remembers JWTs whose signature and claims checked out, by
	// the SHA-256 of the whole compact token: an ECDSA verification costs
	// about 100 µs, several times an online read. Any change to the token
	// changes the hash, so a hit stands for a JWT that verified; expiry and
	// the principal record are still checked on every call. Bounded, with
	// random eviction; failures are never cached.
	mu       sync.RWMutex
	verified map[[sha256.Size]byte]verifiedJWT
}

type verifiedJWT struct {
	name string
	pid  string
	exp  time.Time
}

const maxVerifiedJWTs = 4096

func (c *jwtCodec) lookup(h [sha256.Size]byte) (verifiedJWT, bool) {
	c.mu.RLock()
	v, ok := c.verified[h]
	c.mu.RUnlock()
	return v, ok
}

func (c *jwtCodec) remember(h [sha256.Size]byte, v verifiedJWT) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.verified) >= maxVerifiedJWTs {
		for k := range c.verified {
			delete(c.verified, k)
			break
		}
	}
	c.verified[h] = v
}

func newJWTCodec(h *keyset.Handle) (*jwtCodec, error) {
	signer, err := jwt.NewSigner(h)
	if err != nil {
		return nil, fmt.Errorf("policy: the JWT keyset must hold a private JWT signature key (ES256): %w", err)
	}
	pub, err := h.Public()
	if err != nil {
		return nil, fmt.Errorf("policy: derive the public JWT keyset: %w", err)
	}
	verifier, err := jwt.NewVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("policy: build the JWT verifier: %w", err)
	}
	return &jwtCodec{signer: signer, verifier: verifier, verified: map[[sha256.Size]byte]verifiedJWT{}}, nil
}

// IssueJWT signs a JWT for an active principal, valid for ttl (at most
// MaxJWTTTL). Its subject is the principal's name; Authenticate accepts it
// until it expires or the principal is revoked, whichever comes first. The
// JWT carries no roles or attributes: those are read from the store on use,
// so a change applies to JWTs already issued.
func (e *Engine) IssueJWT(name string, ttl time.Duration) (string, error) {
	if e.jwt == nil {
		return "", ErrJWTDisabled
	}
	if ttl <= 0 || ttl > MaxJWTTTL {
		return "", fmt.Errorf("%w: %v; use more than 0 and at most %v", ErrInvalidTTL, ttl, MaxJWTTTL)
	}
	e.mu.RLock()
	rec := e.principals[name]
	var pid string
	revoked := false
	if rec != nil {
		pid, revoked = rec.ID, rec.Revoked
	}
	e.mu.RUnlock()
	if rec == nil {
		return "", fmt.Errorf("%w: %s", ErrPrincipalNotFound, quote(name))
	}
	if revoked {
		return "", fmt.Errorf("%w: %s cannot get a JWT", ErrPrincipalRevoked, quote(name))
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("policy: read random JWT id: %w", err)
	}
	now := e.opts.now().Truncate(time.Second)
	exp := now.Add(ttl)
	iss, aud, typ, id := jwtIssuer, jwtAudience, jwtTypeHeader, hex.EncodeToString(jti)
	raw, err := jwt.NewRawJWT(&jwt.RawJWTOptions{
		Subject:      &name,
		Issuer:       &iss,
		Audience:     &aud,
		JWTID:        &id,
		IssuedAt:     &now,
		ExpiresAt:    &exp,
		TypeHeader:   &typ,
		CustomClaims: map[string]any{claimPID: pid},
	})
	if err != nil {
		return "", fmt.Errorf("policy: build JWT: %w", err)
	}
	token, err := e.jwt.signer.SignAndEncode(raw)
	if err != nil {
		return "", fmt.Errorf("policy: sign JWT: %w", err)
	}
	return token, nil
}

// authenticateJWT verifies signature, issuer, audience, type and lifetime
// (or finds the token among those already verified), then checks the
// subject against the principal record. Tink's errors are not wrapped: they
// may quote parts of the token.
func (e *Engine) authenticateJWT(token string) (Principal, error) {
	if e.jwt == nil || len(token) > maxJWTLength {
		return Principal{}, ErrUnauthenticated
	}
	now := e.opts.now()
	h := sha256.Sum256([]byte(token))
	v, ok := e.jwt.lookup(h)
	if !ok {
		var err error
		if v, err = e.verifyJWT(token, now); err != nil {
			return Principal{}, err
		}
		e.jwt.remember(h, v)
	}
	if !now.Before(v.exp.Add(jwtClockSkew)) {
		return Principal{}, fmt.Errorf("%w (the JWT has expired; ask for a new one)", ErrUnauthenticated)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	rec := e.principals[v.name]
	if rec == nil || rec.Revoked || rec.ID != v.pid {
		return Principal{}, ErrUnauthenticated
	}
	return rec.principal(), nil
}

func (e *Engine) verifyJWT(token string, now time.Time) (verifiedJWT, error) {
	iss, aud, typ := jwtIssuer, jwtAudience, jwtTypeHeader
	validator, err := jwt.NewValidator(&jwt.ValidatorOpts{
		ExpectedIssuer:     &iss,
		ExpectedAudience:   &aud,
		ExpectedTypeHeader: &typ,
		ClockSkew:          jwtClockSkew,
		FixedNow:           now,
	})
	if err != nil {
		return verifiedJWT{}, fmt.Errorf("policy: build JWT validator: %w", err)
	}
	vj, err := e.jwt.verifier.VerifyAndDecode(token, validator)
	if err != nil {
		if jwt.IsExpirationErr(err) {
			return verifiedJWT{}, fmt.Errorf("%w (the JWT has expired; ask for a new one)", ErrUnauthenticated)
		}
		return verifiedJWT{}, ErrUnauthenticated
	}
	var v verifiedJWT
	if v.name, err = vj.Subject(); err != nil {
		return verifiedJWT{}, ErrUnauthenticated
	}
	if v.pid, err = vj.StringClaim(claimPID); err != nil {
		return verifiedJWT{}, ErrUnauthenticated
	}
	if v.exp, err = vj.ExpiresAt(); err != nil {
		return verifiedJWT{}, ErrUnauthenticated
	}
	return v, nil
}
