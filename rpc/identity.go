package rpc

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/policy"
)

// WithOIDC makes the server accept JWTs from the OIDC issuers v trusts, as
// bearer tokens. A token whose iss names one of them is verified by v and
// resolved to a principal through the policy's identity mappings
// (policy.IdentityMapping); any other bearer token is checked as the
// store's own, as before.
func WithOIDC(v *identity.OIDC) Option { return func(c *config) { c.oidc = v } }

// peerCertKey carries the verified client certificate (the leaf of the
// first verified chain) in a request context; set by the edge.
type peerCertKey struct{}

// authKey carries how the request authenticated, for its audit records.
type authKey struct{}

// authFrom returns how the request authenticated ("" when it did not).
func authFrom(ctx context.Context) string {
	s, _ := ctx.Value(authKey{}).(string)
	return s
}

func peerCert(ctx context.Context) *x509.Certificate {
	c, _ := ctx.Value(peerCertKey{}).(*x509.Certificate)
	return c
}

// Authentication precedence: a bearer token, when the request carries
// one, names the principal (the store's token or JWT, or an OIDC token
// from a trusted issuer), and a client certificate that came with it is
// only recorded; a request without a bearer token is authenticated by
// its verified client certificate, through a certificate mapping. A
// request with neither, or whose certificate maps to no principal, gets
// no access.

// fromToken authenticates a bearer token and says how, for the audit log.
func (a *authInterceptor) fromToken(ctx context.Context, token string) (policy.Principal, string, error) {
	if a.oidc != nil && a.oidc.Handles(token) {
		claims, err := a.oidc.Verify(ctx, token)
		if err != nil {
			if errors.Is(err, identity.ErrIssuerUnavailable) {
				return policy.Principal{}, "", connect.NewError(connect.CodeUnavailable, err)
			}
			return policy.Principal{}, "", connect.NewError(connect.CodeUnauthenticated, err)
		}
		p, err := a.policy.ResolveOIDC(claims.Issuer, claims.All)
		if err != nil {
			return policy.Principal{}, "", identityError(err)
		}
		return p, "oidc " + claims.Issuer + " sub=" + claims.Subject, nil
	}
	p, err := a.policy.Authenticate(token)
	if err != nil {
		return policy.Principal{}, "", connect.NewError(connect.CodeUnauthenticated, errors.New("the bearer token is not valid: it is unknown, expired or revoked"))
	}
	how := "jwt"
	if strings.HasPrefix(token, "fvt_") {
		how = "token"
	}
	return p, how, nil
}

// fromCert authenticates a verified client certificate through the
// certificate mappings.
func (a *authInterceptor) fromCert(leaf *x509.Certificate) (policy.Principal, string, error) {
	id := identity.FromCertificate(leaf)
	p, err := a.policy.ResolveCert(id.SPIFFEID, id.Subject)
	if err != nil {
		return policy.Principal{}, "", identityError(err)
	}
	return p, "cert " + id.String(), nil
}

// identityError maps a failure to resolve a verified identity: no mapping
// is PermissionDenied (the caller proved who it is; that identity has no
// access), a revoked principal Unauthenticated.
func identityError(err error) error {
	if errors.Is(err, policy.ErrUnmappedIdentity) {
		return connect.NewError(connect.CodePermissionDenied, err)
	}
	return connect.NewError(connect.CodeUnauthenticated, errors.New("the identity maps to a revoked principal"))
}
