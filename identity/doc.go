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
// (/.well-known/openid-configuration) on first use and fetches its JSON
// Web Key Set; a token signed with a key id the cached set lacks makes it
// fetch the set again (key rotation), and the cached set is refetched
// anyway once it is older than KeySetMaxAge, so a key the issuer stopped
// publishing stops verifying. The signature is checked by
// github.com/coreos/go-oidc over go-jose, with algorithms from an
// allow-list (asymmetric only: never "none", never an HMAC, which a public
// key could otherwise forge); then the issuer, the audience, and the
// lifetime: exp is required, and exp, nbf and iat are checked with
// ClockSkew of tolerance.
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
