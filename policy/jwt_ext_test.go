package policy_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/policy"
	"github.com/tink-crypto/tink-go/v2/jwt"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// fakeClock is a settable clock for JWT lifetimes.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func jwtKeyset(t *testing.T) *keyset.Handle {
	t.Helper()
	h, err := keyset.NewHandle(jwt.ES256Template())
	if err != nil {
		t.Fatalf("keyset.NewHandle: %v", err)
	}
	return h
}

func TestJWTAuthenticatesUntilExpiryOrRevocation(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	h := jwtKeyset(t)
	e, _ := newEngine(t, policy.DefaultOptions().WithJWTKeyset(h).WithClock(clock.now))
	mustCreate(t, e, "alice", []string{"analyst"}, map[string][]string{"purpose": {"training"}})
	mustCreate(t, e, "bob", []string{"analyst"}, nil)

	tok, err := e.IssueJWT("alice", time.Hour)
	if err != nil {
		t.Fatalf("IssueJWT: %v", err)
	}
	if !strings.HasPrefix(tok, "ey") {
		t.Fatalf("JWT does not start with ey")
	}
	p, err := e.Authenticate(tok)
	if err != nil || p.Name != "alice" || strings.Join(p.Roles, ",") != "analyst" || p.Attrs["purpose"][0] != "training" {
		t.Fatalf("Authenticate(JWT) = %+v, %v; want alice with role analyst and purpose training", p, err)
	}

	// Tampering with any part fails.
	parts := strings.Split(tok, ".")
	for i := range parts {
		mod := append([]string(nil), parts...)
		b := []byte(mod[i])
		b[len(b)/2] ^= 0x01
		mod[i] = string(b)
		if _, err := e.Authenticate(strings.Join(mod, ".")); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("Authenticate(JWT with part %d changed) = %v, want ErrUnauthenticated", i, err)
		}
	}

	// A JWT signed by another key fails.
	other, _ := newEngine(t, policy.DefaultOptions().WithJWTKeyset(jwtKeyset(t)).WithClock(clock.now))
	mustCreate(t, other, "alice", []string{"admin"}, nil)
	foreign, err := other.IssueJWT("alice", time.Hour)
	if err != nil {
		t.Fatalf("IssueJWT(other engine): %v", err)
	}
	if _, err := e.Authenticate(foreign); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("Authenticate(JWT of another key) = %v, want ErrUnauthenticated", err)
	}

	// An engine with the same key but another principal record "alice"
	// (another store) issues a JWT this engine refuses: fv_pid differs.
	twin, _ := newEngine(t, policy.DefaultOptions().WithJWTKeyset(h).WithClock(clock.now))
	mustCreate(t, twin, "alice", []string{"admin"}, nil)
	twinTok, err := twin.IssueJWT("alice", time.Hour)
	if err != nil {
		t.Fatalf("IssueJWT(twin): %v", err)
	}
	if _, err := e.Authenticate(twinTok); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("Authenticate(JWT for another principal of the same name) = %v, want ErrUnauthenticated", err)
	}

	// Expiry.
	bobTok, err := e.IssueJWT("bob", 10*time.Minute)
	if err != nil {
		t.Fatalf("IssueJWT(bob): %v", err)
	}
	if _, err := e.Authenticate(bobTok); err != nil {
		t.Fatalf("Authenticate(bob's fresh JWT) = %v", err)
	}
	clock.advance(11 * time.Minute) // past expiry and clock skew
	_, err = e.Authenticate(bobTok) // verified before: expiry checked again
	if !errors.Is(err, policy.ErrUnauthenticated) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Authenticate(expired JWT) = %v, want ErrUnauthenticated saying expired", err)
	}
	if _, err := e.Authenticate(tok); err != nil {
		t.Fatalf("Authenticate(alice's JWT, still valid) = %v", err)
	}

	// Revocation stops an unexpired JWT on the next call.
	if err := e.RevokePrincipal("alice"); err != nil {
		t.Fatalf("RevokePrincipal: %v", err)
	}
	if _, err := e.Authenticate(tok); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("Authenticate(JWT of revoked principal) = %v, want ErrUnauthenticated", err)
	}
	if _, err := e.IssueJWT("alice", time.Hour); !errors.Is(err, policy.ErrPrincipalRevoked) {
		t.Errorf("IssueJWT(revoked) = %v, want ErrPrincipalRevoked", err)
	}
}

func TestIssueJWTRefusals(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions().WithJWTKeyset(jwtKeyset(t)))
	mustCreate(t, e, "alice", nil, nil)
	noJWT, _ := newEngine(t, policy.DefaultOptions())
	mustCreate(t, noJWT, "alice", nil, nil)
	tests := []struct {
		name    string
		e       *policy.Engine
		who     string
		ttl     time.Duration
		wantErr error
	}{
		{"zero ttl", e, "alice", 0, policy.ErrInvalidTTL},
		{"negative ttl", e, "alice", -time.Minute, policy.ErrInvalidTTL},
		{"ttl too long", e, "alice", policy.MaxJWTTTL + time.Second, policy.ErrInvalidTTL},
		{"unknown principal", e, "nobody", time.Hour, policy.ErrPrincipalNotFound},
		{"no keyset", noJWT, "alice", time.Hour, policy.ErrJWTDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tt.e.IssueJWT(tt.who, tt.ttl); !errors.Is(err, tt.wantErr) {
				t.Errorf("IssueJWT(%q, %v) = %v, want %v", tt.who, tt.ttl, err, tt.wantErr)
			}
		})
	}
}

func TestOpenRefusesPublicJWTKeyset(t *testing.T) {
	t.Parallel()
	pub, err := jwtKeyset(t).Public()
	if err != nil {
		t.Fatalf("Public: %v", err)
	}
	if _, err := policy.Open(newStore(t), policy.DefaultOptions().WithJWTKeyset(pub)); err == nil {
		t.Errorf("Open with a public-only JWT keyset succeeded; want an error")
	}
}
