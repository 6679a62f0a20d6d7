// Package identity verifies the identities a caller brings from outside
// FeatureVault: JWTs from a company's OpenID Connect issuers (Okta, Entra
// ID, Keycloak, Google) and client certificates verified by the TLS
// handshake (SPIFFE IDs, subject names). It answers "who does this
// credential say the caller is", as claims; the policy package's identity
// mappings then say which principal, roles and purposes those claims get.
//
// # OIDC
//
// An OIDC verifier trusts a fixed list of issuers, each with the audience
// its tokens must carry. For each, it discovers the issuer's metadata
// (/.well-known/openid-configuration, with github.com/coreos/go-oidc) on
// first use and fetches its JSON Web Key Set (keyset.go, go-jose keys); a
// token that verifies with no cached key makes it fetch the set again
// (key rotation), and the cached set is fetched again anyway once older
// than the key set max age (DefaultKeySetMaxAge), so a key the issuer
// stopped publishing stops verifying. go-oidc's verifier checks the
// algorithm against an allow-list (asymmetric only: never "none", never an
// HMAC, which a public key could otherwise forge), the signature (go-jose),
// the issuer and the audience; then the lifetime: exp is required, and
// exp, nbf and iat are checked with the clock skew (DefaultClockSkew).
//
// Every refusal is an error wrapping ErrInvalidToken with a fixed
// message that says what was wrong (expired, wrong audience, untrusted
// issuer...); no message ever quotes the token.
//
// # Certificates
//
// FromCertificate reads the identity of a client certificate the TLS
// stack already verified: its SPIFFE ID (the URI SAN, parsed with
// go-spiffe) and its subject. This package does not verify certificates.
package identity
