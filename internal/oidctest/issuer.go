// Package oidctest runs a small OpenID Connect issuer on loopback for
// tests: it serves a discovery document and a JSON Web Key Set, signs
// tokens with go-jose, rotates its keys on demand, and can forge the
// tokens an attacker would send ("alg": "none", HS256 keyed with the
// public key, an unpublished key). It issues no tokens through OAuth
// flows: a test asks it for a signed token directly.
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is one ES256 signing key of the issuer.
type Key struct {
	ID   string
	priv *ecdsa.PrivateKey
}

// Issuer is a running test issuer. Its methods are safe for concurrent
// use.
type Issuer struct {
	// URL is the issuer URL (http://127.0.0.1:PORT), the iss of its tokens.
	URL string

	srv        *httptest.Server
	jwksFetch  atomic.Int64
	mu         sync.Mutex
	published  []*Key // in the JWKS
	signing    *Key
	nextKeyNum int
}

// New starts an issuer on loopback with one published signing key; it
// stops when the test ends.
func New(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                is.URL,
			"jwks_uri":                              is.URL + "/keys",
			"authorization_endpoint":                is.URL + "/auth",
			"token_endpoint":                        is.URL + "/token",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		is.jwksFetch.Add(1)
		is.mu.Lock()
		var set jose.JSONWebKeySet
		for _, k := range is.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.ID, Algorithm: "ES256", Use: "sig"})
		}
		is.mu.Unlock()
		writeJSON(w, set)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	is.URL = is.srv.URL
	k := is.NewKey(t)
	is.mu.Lock()
	is.published, is.signing = []*Key{k}, k
	is.mu.Unlock()
	return is
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// NewKey makes a key with a fresh key id, neither published nor used to
// sign (Publish and Rotate do that).
func (is *Issuer) NewKey(t testing.TB) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("oidctest: generate key: %v", err)
	}
	is.mu.Lock()
	is.nextKeyNum++
	id := fmt.Sprintf("key-%d", is.nextKeyNum)
	is.mu.Unlock()
	return &Key{ID: id, priv: priv}
}

// SigningKey returns the key tokens are signed with now.
func (is *Issuer) SigningKey() *Key {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.signing
}

// Rotate publishes a new key, signs with it from now on and withdraws
// every earlier key from the JWKS. It returns the new key.
func (is *Issuer) Rotate(t testing.TB) *Key {
	t.Helper()
	k := is.NewKey(t)
	is.mu.Lock()
	is.published, is.signing = []*Key{k}, k
	is.mu.Unlock()
	return k
}

// JWKSFetches counts the requests for the key set so far.
func (is *Issuer) JWKSFetches() int64 { return is.jwksFetch.Load() }

// Claims returns the usual claims of a token for subject and audience,
// issued now and valid for an hour.
func (is *Issuer) Claims(subject, audience string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "sub": subject, "aud": audience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Sign signs claims with the current signing key (ES256, the key id in
// the header).
func (is *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return is.SignWith(t, is.SigningKey(), claims)
}

// SignWith signs claims with k, published or not.
func (is *Issuer) SignWith(t testing.TB, k *Key, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, opts)
	if err != nil {
		t.Fatalf("oidctest: signer: %v", err)
	}
	return compact(t, s, claims)
}

// SignHS256WithPublicKey forges the classic key-confusion token: HS256
// keyed with the PEM of the issuer's current public key, which a verifier
// that lets the token choose its algorithm would accept.
func (is *Issuer) SignHS256WithPublicKey(t testing.TB, claims map[string]any) string {
	t.Helper()
	k := is.SigningKey()
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		t.Fatalf("oidctest: marshal public key: %v", err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pemKey}, opts)
	if err != nil {
		t.Fatalf("oidctest: HS256 signer: %v", err)
	}
	return compact(t, s, claims)
}

// Unsigned returns claims as an "alg": "none" token (empty signature).
func (is *Issuer) Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("oidctest: claims: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func compact(t testing.TB, s jose.Signer, claims map[string]any) string {
	t.Helper()
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("oidctest: claims: %v", err)
	}
	jws, err := s.Sign(p)
	if err != nil {
		t.Fatalf("oidctest: sign: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("oidctest: serialize: %v", err)
	}
	return out
}

// PrivateBytes returns k's private scalar, for tests that scan logs and
// records for key material.
func (k *Key) PrivateBytes() []byte {
	b, err := k.priv.Bytes()
	if err != nil {
		panic("oidctest: a P-256 key without bytes: " + err.Error())
	}
	return b
}
