package policy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/jwt"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/featurevault/featurevault/internal/fuzzcorpus"
	"github.com/featurevault/featurevault/policy"
)

// FuzzAuthenticate: an engine with one principal, one opaque token and one
// JWT. Any other string, however close to them (one character changed,
// cut, padded, re-encoded, a JWT with another header or payload), never
// panics and never authenticates; the failure is ErrUnauthenticated and
// its message never quotes the string. The real token and JWT do
// authenticate, so the target can tell the two apart.
func FuzzAuthenticate(f *testing.F) {
	h, err := keyset.NewHandle(jwt.ES256Template())
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	e, _ := newEngine(f, policy.DefaultOptions().WithJWTKeyset(h).WithClock(func() time.Time { return now }))
	tok, err := e.CreatePrincipal("alice", []string{"analyst"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	signed, err := e.IssueJWT("alice", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, cred := range []string{tok, signed} {
		if p, err := e.Authenticate(cred); err != nil || p.Name != "alice" {
			f.Fatalf("Authenticate(a real credential) = %+v, %v; want alice", p, err)
		}
	}
	// Near misses of this run's credentials (random: not committed).
	parts := strings.Split(signed, ".")
	for _, s := range []string{
		tok[:len(tok)-1] + "A", tok + "=", tok[:len(tok)-1], strings.ToUpper(tok), "Bearer " + tok,
		signed + ".", signed[:len(signed)-2], parts[0] + "." + parts[1] + ".",
		"eyJhbGciOiJub25lIn0." + parts[1] + ".", // alg none
		parts[0] + "." + parts[1] + "." + parts[2] + "==",
	} {
		f.Add(s)
	}
	// Fixed shapes, committed as the corpus.
	for _, s := range []string{
		"", "fvt_", "ey", "fvt_" + strings.Repeat("A", 43), "fvt_" + strings.Repeat("_", 43) + "=",
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImlzcyI6ImZlYXR1cmV2YXVsdCIsImF1ZCI6ImZlYXR1cmV2YXVsdCJ9.",
		"eyJhbGciOiJFUzI1NiJ9.e30.AAAA", strings.Repeat("e", 5000),
	} {
		fuzzcorpus.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := e.Authenticate(token)
		if token == tok || token == signed {
			if err != nil || p.Name != "alice" {
				t.Fatalf("a real credential failed: %+v, %v", p, err)
			}
			return
		}
		if err == nil {
			t.Fatalf("Authenticate(%q) = %+v; a string that is neither credential authenticated", token, p)
		}
		if !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("error %v is not ErrUnauthenticated", err)
		}
		if len(token) >= 8 && strings.Contains(err.Error(), token) {
			t.Errorf("error %q quotes the token", err)
		}
	})
}
