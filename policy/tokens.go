package policy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/featurevault/featurevault/kv"
)

// Bearer tokens are "fvt_" followed by the unpadded base64url encoding of 32
// random bytes (256 bits). They are looked up by their SHA-256 hash, stored
// under "p/token/HEX" -> principal name and in the principal's record. A
// fast unsalted hash is right here: the token has full entropy, so there is
// nothing to brute-force, and the store alone never yields a usable token.
const (
	tokenPrefix  = "fvt_"
	tokenRawLen  = 32
	tokenLen     = len(tokenPrefix) + 43 // base64.RawURLEncoding of 32 bytes
	maxJWTLength = 4096
)

var prefixToken = []byte("p/token/")

func tokenKey(h [sha256.Size]byte) []byte {
	return hex.AppendEncode(bytes.Clone(prefixToken), h[:])
}

func tokenOp(h [sha256.Size]byte, name string) kv.Op {
	return kv.Op{Key: tokenKey(h), Value: []byte(name)}
}

func newToken() (string, [sha256.Size]byte, error) {
	raw := make([]byte, tokenRawLen)
	if _, err := rand.Read(raw); err != nil {
		return "", [sha256.Size]byte{}, fmt.Errorf("policy: read random token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	return token, sha256.Sum256([]byte(token)), nil
}

func loadTokens(s kv.Store, principals map[string]*principalRecord) (map[[sha256.Size]byte]string, error) {
	out := map[[sha256.Size]byte]string{}
	err := s.Scan(prefixToken, func(e kv.Entry) error {
		var h [sha256.Size]byte
		if n, err := hex.Decode(h[:], e.Key[len(prefixToken):]); err != nil || n != sha256.Size {
			return fmt.Errorf("%w: token index key %q is malformed", ErrStoreDamaged, e.Key)
		}
		// A token counts only if the principal's own record lists it and
		// the principal is active: an index entry alone grants nothing.
		name := string(e.Value)
		if rec := principals[name]; rec != nil && !rec.Revoked && rec.hasToken(h) {
			out[h] = name
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hasToken reports, in constant time over the record's hashes, whether h is
// one of them.
func (r *principalRecord) hasToken(h [sha256.Size]byte) bool {
	found := 0
	for i := range r.hashes {
		found |= subtle.ConstantTimeCompare(r.hashes[i][:], h[:])
	}
	return found == 1
}

// Authenticate returns the active principal a bearer token or JWT belongs
// to. Opaque tokens start with "fvt_"; JWTs (when the engine has a JWT
// keyset) start with "ey". Every failure — missing, malformed, unknown,
// expired, or of a revoked principal — is ErrUnauthenticated, whose message
// never contains the token. A revoked principal's tokens and JWTs fail from
// the first call after RevokePrincipal returns.
//
// The opaque token is hashed before any lookup, so neither the map lookup
// nor the comparison with the principal's stored hashes (constant-time)
// depends on the token's bytes in a way that reveals them.
func (e *Engine) Authenticate(token string) (Principal, error) {
	switch {
	case strings.HasPrefix(token, tokenPrefix):
		return e.authenticateOpaque(token)
	case strings.HasPrefix(token, "ey"):
		return e.authenticateJWT(token)
	}
	return Principal{}, ErrUnauthenticated
}

func (e *Engine) authenticateOpaque(token string) (Principal, error) {
	if len(token) != tokenLen {
		return Principal{}, ErrUnauthenticated
	}
	var raw [tokenRawLen]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(token[len(tokenPrefix):])); err != nil || n != tokenRawLen {
		return Principal{}, ErrUnauthenticated
	}
	h := sha256.Sum256([]byte(token))
	e.mu.RLock()
	defer e.mu.RUnlock()
	rec := e.principals[e.tokens[h]]
	if rec == nil || rec.Revoked || !rec.hasToken(h) {
		return Principal{}, ErrUnauthenticated
	}
	return rec.principal(), nil
}

// IssueToken returns a new bearer token for an active principal, in
// addition to the ones it has (to replace a lost one, revoke the principal
// and create another). Like CreatePrincipal's, the token is shown only here.
func (e *Engine) IssueToken(name string) (string, error) {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	old := e.principals[name]
	if old == nil {
		return "", fmt.Errorf("%w: %s", ErrPrincipalNotFound, quote(name))
	}
	if old.Revoked {
		return "", fmt.Errorf("%w: %s cannot get a token", ErrPrincipalRevoked, quote(name))
	}
	token, h, err := newToken()
	if err != nil {
		return "", err
	}
	rec := old.clone()
	rec.TokenHashes = append(rec.TokenHashes, hex.EncodeToString(h[:]))
	rec.hashes = append(rec.hashes, h)
	op, err := rec.op()
	if err != nil {
		return "", err
	}
	err = e.commit([]kv.Op{op, tokenOp(h, name)}, func() error {
		e.principals[name] = rec
		e.tokens[h] = name
		return nil
	})
	if err != nil {
		return "", err
	}
	return token, nil
}
