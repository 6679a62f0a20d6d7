package identity_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/internal/oidctest"
)

const audience = "featurevault-api"

func newVerifier(t *testing.T, issuers ...*oidctest.Issuer) *identity.OIDC {
	t.Helper()
	var list []identity.Issuer
	for _, is := range issuers {
		list = append(list, identity.Issuer{URL: is.URL, Audience: audience})
	}
	v, err := identity.NewOIDC(list, identity.DefaultOptions())
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return v
}

func TestOIDCVerifyAcceptsAValidToken(t *testing.T) {
	t.Parallel()
	is := oidctest.New(t)
	v := newVerifier(t, is)
	c := is.Claims("user-1", audience)
	c["groups"] = []string{"data-science"}
	tok := is.Sign(t, c)
	if !v.Handles(tok) {
		t.Fatalf("Handles(token of a trusted issuer) = false")
	}
	got, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Issuer != is.URL || got.Subject != "user-1" {
		t.Errorf("claims = issuer %q subject %q, want %q user-1", got.Issuer, got.Subject, is.URL)
	}
	if g, ok := got.All["groups"].([]any); !ok || len(g) != 1 || g[0] != "data-science" {
		t.Errorf("groups claim = %#v, want [data-science]", got.All["groups"])
	}
}

func TestOIDCVerifyRefusesEachBadToken(t *testing.T) {
	t.Parallel()
	is := oidctest.New(t)
	other := oidctest.New(t)
	v := newVerifier(t, is)
	now := time.Now()
	with := func(edit func(map[string]any)) map[string]any {
		c := is.Claims("user-1", audience)
		edit(c)
		return c
	}
	unpublished := is.NewKey(t)
	tests := []struct {
		name  string
		token string
		want  string // in the message
	}{
		{"expired", is.Sign(t, with(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() })), "expired"},
		{"not yet valid", is.Sign(t, with(func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() })), "not valid before"},
		{"issued in the future", is.Sign(t, with(func(c map[string]any) { c["iat"] = now.Add(10 * time.Minute).Unix() })), "issued in the future"},
		{"no exp", is.Sign(t, with(func(c map[string]any) { delete(c, "exp") })), "no exp"},
		{"wrong audience", is.Sign(t, with(func(c map[string]any) { c["aud"] = "another-api" })), "audience"},
		{"untrusted issuer", other.Sign(t, other.Claims("user-1", audience)), "not trusted"},
		{"trusted iss signed by another issuer", other.Sign(t, is.Claims("user-1", audience)), "signature"},
		{"alg none", is.Unsigned(t, is.Claims("user-1", audience)), "algorithm \"none\""},
		{"HS256 keyed with the public key", is.SignHS256WithPublicKey(t, is.Claims("user-1", audience)), "algorithm \"HS256\""},
		{"unknown kid", is.SignWith(t, unpublished, is.Claims("user-1", audience)), "signature"},
		{"tampered claims", tamper(is.Sign(t, is.Claims("user-1", audience))), "signature"},
		{"not a JWT", "fvt_notajwt", "not a signed JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			if !errors.Is(err, identity.ErrInvalidToken) {
				t.Fatalf("Verify: err = %v, want ErrInvalidToken", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify: err = %q, want it to say %q", err, tt.want)
			}
			for _, part := range strings.Split(tt.token, ".") {
				if len(part) > 8 && strings.Contains(err.Error(), part) {
					t.Errorf("the error quotes part of the token: %q", err)
				}
			}
		})
	}
}

// tamper changes the subject of a signed token, keeping its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(p), "user-1", "admin", 1)))
	return strings.Join(parts, ".")
}

func TestOIDCKeyRotationIsPickedUpWithoutRestartAndRetiredKeysAreRefused(t *testing.T) {
	t.Parallel()
	is := oidctest.New(t)
	v := newVerifier(t, is)
	old := is.Sign(t, is.Claims("user-1", audience))
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	fetches := is.JWKSFetches()
	is.Rotate(t)
	fresh := is.Sign(t, is.Claims("user-1", audience))
	if _, err := v.Verify(t.Context(), fresh); err != nil {
		t.Fatalf("Verify a token of the new key: %v", err)
	}
	if got := is.JWKSFetches(); got <= fetches {
		t.Errorf("JWKS fetched %d times after rotation, want more than %d (an unknown kid refetches)", got, fetches)
	}
	_, err := v.Verify(t.Context(), old)
	if !errors.Is(err, identity.ErrInvalidToken) || !strings.Contains(err.Error(), "signature") {
		t.Errorf("Verify a token of the retired key: err = %v, want a signature refusal", err)
	}
}

func TestOIDCKeySetMaxAgeRefetches(t *testing.T) {
	t.Parallel()
	is := oidctest.New(t)
	v, err := identity.NewOIDC([]identity.Issuer{{URL: is.URL, Audience: audience}}, identity.DefaultOptions().WithKeySetMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	old := is.Sign(t, is.Claims("user-1", audience))
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The issuer withdraws the key but signs nothing new: only the age
	// of the cached set makes the verifier notice.
	is.Rotate(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), old)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a withdrawn key still verifies after the key set's max age")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestNewOIDCRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		issuers []identity.Issuer
		opts    identity.Options
	}{
		{"none", nil, identity.DefaultOptions()},
		{"plain http off loopback", []identity.Issuer{{URL: "http://idp.example.com", Audience: "a"}}, identity.DefaultOptions()},
		{"no audience", []identity.Issuer{{URL: "https://idp.example.com"}}, identity.DefaultOptions()},
		{"twice", []identity.Issuer{{URL: "https://idp.example.com", Audience: "a"}, {URL: "https://idp.example.com", Audience: "b"}}, identity.DefaultOptions()},
		{"HS256 allowed", []identity.Issuer{{URL: "https://idp.example.com", Audience: "a"}}, identity.DefaultOptions().WithAlgorithms("HS256")},
		{"none allowed", []identity.Issuer{{URL: "https://idp.example.com", Audience: "a"}}, identity.DefaultOptions().WithAlgorithms("none")},
		{"huge skew", []identity.Issuer{{URL: "https://idp.example.com", Audience: "a"}}, identity.DefaultOptions().WithClockSkew(time.Hour)},
	}
	for _, tt := range tests {
		if _, err := identity.NewOIDC(tt.issuers, tt.opts); !errors.Is(err, identity.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tt.name, err)
		}
	}
}
