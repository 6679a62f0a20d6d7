package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// errKeySetFetch starts the message of a failed key set fetch; go-oidc
// wraps KeySet errors with %v, so Verify recognises it by its text.
const errKeySetFetch = "identity: fetch the key set"

// maxKeySetBytes bounds a JWKS document.
const maxKeySetBytes = 1 << 20

// keySet is an issuer's JSON Web Key Set, cached, implementing go-oidc's
// KeySet (go-oidc checks algorithm, issuer and audience; this checks only
// the signature). A token that verifies with no cached key makes it fetch
// the set again, once, then try again: key rotation is picked up without a
// restart, and a key the issuer withdrew stops verifying. The cached set
// is also fetched again once older than maxAge. Fetches are serialised
// and coalesced (requests that missed the same cached set share one
// fetch), and the cache is replaced before the fetch returns, so no later
// request can see keys older than a fetch that finished.
type keySet struct {
	url    string
	client *http.Client
	maxAge time.Duration
	algs   []jose.SignatureAlgorithm

	fetchMu sync.Mutex // held while fetching

	mu      sync.RWMutex
	keys    []jose.JSONWebKey
	gen     uint64 // counts fetches; 0: never fetched
	fetched time.Time
}

func newKeySet(url string, o Options) *keySet {
	k := &keySet{url: url, client: o.client, maxAge: o.keySetMaxAge}
	for _, a := range o.algorithms {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, errors.New("identity: malformed JWS")
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("identity: a token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.RLock()
	keys, gen, fetched := k.keys, k.gen, k.fetched
	k.mu.RUnlock()
	if gen == 0 || time.Since(fetched) > k.maxAge {
		if keys, _, err = k.refresh(ctx, gen); err != nil {
			return nil, err
		}
		if p, ok := verifyWith(jws, keys, kid); ok {
			return p, nil
		}
		return nil, errors.New("identity: the signature verifies with no key of the issuer")
	}
	if p, ok := verifyWith(jws, keys, kid); ok {
		return p, nil
	}
	if keys, _, err = k.refresh(ctx, gen); err != nil {
		return nil, err
	}
	if p, ok := verifyWith(jws, keys, kid); ok {
		return p, nil
	}
	return nil, errors.New("identity: the signature verifies with no key of the issuer")
}

// refresh fetches the key set, unless a fetch finished since the caller
// read generation seen (then it returns that fetch's keys).
func (k *keySet) refresh(ctx context.Context, seen uint64) ([]jose.JSONWebKey, uint64, error) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.RLock()
	keys, gen := k.keys, k.gen
	k.mu.RUnlock()
	if gen != seen {
		return keys, gen, nil
	}
	keys, err := k.fetch(ctx)
	if err != nil {
		return nil, 0, err
	}
	k.mu.Lock()
	k.gen++
	k.keys, gen, k.fetched = keys, k.gen, time.Now()
	k.mu.Unlock()
	return keys, gen, nil
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", errKeySetFetch, k.url, err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", errKeySetFetch, k.url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %s", errKeySetFetch, k.url, res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxKeySetBytes+1))
	if err != nil || len(body) > maxKeySetBytes {
		return nil, fmt.Errorf("%s %s: unreadable or larger than %d bytes", errKeySetFetch, k.url, maxKeySetBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%s %s: not a JSON Web Key Set", errKeySetFetch, k.url)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.IsPublic() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// verifyWith verifies jws with the keys named by kid (every key when the
// token names none).
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if p, err := jws.Verify(&keys[i]); err == nil {
			return p, true
		}
	}
	return nil, false
}
