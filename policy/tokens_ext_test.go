package policy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/policy"
)

// TestTokenIsStoredOnlyAsHash scans every key and value of the store: the
// token (or its secret part) never appears, its SHA-256 does.
func TestTokenIsStoredOnlyAsHash(t *testing.T) {
	t.Parallel()
	e, s := newEngine(t, policy.DefaultOptions())
	_, tok1 := mustCreate(t, e, "alice", []string{"analyst"}, map[string][]string{"purpose": {"training"}})
	tok2, err := e.IssueToken("alice")
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	for _, tok := range []string{tok1, tok2} {
		if !strings.HasPrefix(tok, "fvt_") || len(tok) != 47 {
			t.Fatalf("token %q..: want fvt_ and 43 base64url characters", tok[:6])
		}
		secret := strings.TrimPrefix(tok, "fvt_")
		for _, needle := range []string{tok, secret, secret[:16], secret[len(secret)-16:]} {
			if hits := scanFor(t, s, []byte(needle)); len(hits) > 0 {
				t.Errorf("token material found in the store at keys %q", hits)
			}
		}
		sum := sha256.Sum256([]byte(tok))
		if hits := scanFor(t, s, []byte(hex.EncodeToString(sum[:]))); len(hits) == 0 {
			t.Errorf("the token's SHA-256 is not in the store; want it as the lookup key")
		}
	}
	if tok1 == tok2 {
		t.Errorf("two tokens are equal")
	}
}

// TestAuthenticateRejectsBadTokens covers every way a token can be wrong;
// none of the errors repeats the token.
func TestAuthenticateRejectsBadTokens(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	_, good := mustCreate(t, e, "alice", []string{"analyst"}, nil)
	_, revoked := mustCreate(t, e, "mallory", []string{"analyst"}, nil)
	if err := e.RevokePrincipal("mallory"); err != nil {
		t.Fatalf("RevokePrincipal: %v", err)
	}
	flip := []byte(good)
	flip[len(flip)-1] ^= 1
	if flip[len(flip)-1] == '_' || flip[len(flip)-1] == '-' {
		flip[len(flip)-1] = 'A'
	}
	other := "fvt_" + strings.Repeat("A", 43)

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"prefix only", "fvt_"},
		{"one character changed", string(flip)},
		{"unknown well-formed", other},
		{"extra character", good + "A"},
		{"truncated", good[:len(good)-1]},
		{"bearer scheme left in", "Bearer " + good},
		{"trailing newline", good + "\n"},
		{"bad base64", "fvt_" + strings.Repeat("!", 43)},
		{"revoked principal", revoked},
		{"JWT-looking garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."},
		{"JWT without a keyset", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"},
		{"other scheme", "ghp_" + strings.Repeat("x", 36)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := e.Authenticate(tt.token)
			if !errors.Is(err, policy.ErrUnauthenticated) {
				t.Fatalf("Authenticate = %+v, %v; want ErrUnauthenticated", p, err)
			}
			if tt.token != "" && strings.Contains(err.Error(), strings.TrimSpace(strings.TrimPrefix(tt.token, "Bearer "))) {
				t.Errorf("error %q repeats the token", err)
			}
		})
	}
	if p, err := e.Authenticate(good); err != nil || p.Name != "alice" {
		t.Errorf("Authenticate(good) = %q, %v; want alice", p.Name, err)
	}
}

// TestRevokedTokenStopsAtOnce checks that the call right after
// RevokePrincipal fails, for both of a principal's tokens.
func TestRevokedTokenStopsAtOnce(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	_, tok1 := mustCreate(t, e, "alice", []string{"analyst"}, nil)
	tok2, err := e.IssueToken("alice")
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	for _, tok := range []string{tok1, tok2} {
		if _, err := e.Authenticate(tok); err != nil {
			t.Fatalf("Authenticate before revoke: %v", err)
		}
	}
	if err := e.RevokePrincipal("alice"); err != nil {
		t.Fatalf("RevokePrincipal: %v", err)
	}
	for i, tok := range []string{tok1, tok2} {
		if _, err := e.Authenticate(tok); !errors.Is(err, policy.ErrUnauthenticated) {
			t.Errorf("Authenticate(token %d) after revoke = %v, want ErrUnauthenticated", i+1, err)
		}
	}
	p, err := e.Principal("alice")
	if err != nil || !p.Revoked || p.RevokedAt.IsZero() || len(p.Roles) != 0 {
		t.Errorf("Principal(alice) = %+v, %v; want revoked, with a time, without roles", p, err)
	}
	if _, err := e.IssueToken("alice"); !errors.Is(err, policy.ErrPrincipalRevoked) {
		t.Errorf("IssueToken(revoked) = %v, want ErrPrincipalRevoked", err)
	}
	if _, err := e.CreatePrincipal("alice", nil, nil); !errors.Is(err, policy.ErrPrincipalExists) {
		t.Errorf("CreatePrincipal(revoked name) = %v, want ErrPrincipalExists (names are never reused)", err)
	}
	if err := e.RevokePrincipal("alice"); err != nil {
		t.Errorf("RevokePrincipal twice = %v, want nil", err)
	}
	if err := e.RevokePrincipal("nobody"); !errors.Is(err, policy.ErrPrincipalNotFound) {
		t.Errorf("RevokePrincipal(nobody) = %v, want ErrPrincipalNotFound", err)
	}
}

// TestPrincipalsListAndRoles checks the principal's view of its roles and
// attributes, and that a returned Principal is a copy.
func TestPrincipalsListAndRoles(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustCreate(t, e, "bob", []string{"writer", "analyst", "analyst"}, map[string][]string{"purpose": {"training", "analytics"}, "team": {"ml"}})
	mustCreate(t, e, "alice", nil, nil)
	if err := e.AssignRole("alice", "auditor"); err != nil {
		t.Fatalf("AssignRole: %v", err)
	}
	if err := e.AssignRole("alice", "auditor"); err != nil {
		t.Fatalf("AssignRole twice: %v", err)
	}
	if err := e.UnassignRole("bob", "writer"); err != nil {
		t.Fatalf("UnassignRole: %v", err)
	}
	if err := e.UnassignRole("bob", "writer"); !errors.Is(err, policy.ErrRoleNotAssigned) {
		t.Errorf("UnassignRole twice = %v, want ErrRoleNotAssigned", err)
	}
	if err := e.AssignRole("carol", "auditor"); !errors.Is(err, policy.ErrPrincipalNotFound) {
		t.Errorf("AssignRole(carol) = %v, want ErrPrincipalNotFound", err)
	}
	if _, err := e.CreatePrincipal("bob", nil, nil); !errors.Is(err, policy.ErrPrincipalExists) {
		t.Errorf("CreatePrincipal(bob) again = %v, want ErrPrincipalExists", err)
	}

	list := e.ListPrincipals()
	var got []string
	for _, p := range list {
		got = append(got, p.Name+":"+strings.Join(p.Roles, "+"))
	}
	if want := "alice:auditor bob:analyst"; strings.Join(got, " ") != want {
		t.Errorf("ListPrincipals = %q, want %q", strings.Join(got, " "), want)
	}
	bob := list[1]
	if got, want := strings.Join(bob.Attrs["purpose"], ","), "analytics,training"; got != want {
		t.Errorf("bob purposes = %q, want %q", got, want)
	}
	bob.Attrs["purpose"][0] = "marketing"
	bob.Roles[0] = "admin"
	again, _ := e.Principal("bob")
	if again.Attrs["purpose"][0] != "analytics" || again.Roles[0] != "analyst" {
		t.Errorf("changing a returned Principal changed the engine: %+v", again)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
