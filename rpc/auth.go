package rpc

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/store"
)

var errNoPrincipal = errors.New("rpc: no principal in the request context")

// principalKey carries the authenticated principal in a request context.
type principalKey struct{}

// PrincipalFrom returns the principal the request authenticated as.
func PrincipalFrom(ctx context.Context) (policy.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(policy.Principal)
	return p, ok
}

// authInterceptor authenticates every call (unary and streaming) with the
// bearer token in its Authorization header (the store's token or JWT, or
// an OIDC token) or, without one, its verified client certificate (see
// identity.go for the precedence), then applies the principal's rate
// limit. Nothing reaches a handler unauthenticated.
type authInterceptor struct {
	policy  *policy.Engine
	limiter *limiter
	oidc    *identity.OIDC // nil: no OIDC issuer trusted
}

func (a *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		ctx, err := a.authenticate(ctx, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.authenticate(ctx, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func (a *authInterceptor) authenticate(ctx context.Context, h http.Header) (context.Context, error) {
	auth := h.Get("Authorization")
	token, bearer := strings.CutPrefix(auth, "Bearer ")
	token = strings.TrimSpace(token)
	leaf := peerCert(ctx)
	var (
		p   policy.Principal
		how string
		err error
	)
	switch {
	case bearer && token != "":
		p, how, err = a.fromToken(ctx, token)
		if err == nil && leaf != nil {
			how += "; cert " + identity.FromCertificate(leaf).String()
		}
	case auth == "" && leaf != nil:
		p, how, err = a.fromCert(leaf)
	default:
		err = connect.NewError(connect.CodeUnauthenticated, errors.New("no bearer token: send `Authorization: Bearer <token>` (the CLI takes --token or FEATUREVAULT_TOKEN), or a client certificate mapped to a principal"))
	}
	if err != nil {
		return nil, err
	}
	if err := a.limiter.allow(p.Name); err != nil {
		return nil, err
	}
	// The stated purpose travels with the request into the store, which
	// leaves out subjects restricted for it (opt-outs) on every read path.
	ctx = store.WithPurpose(ctx, h.Get(HeaderPurpose))
	ctx = context.WithValue(ctx, authKey{}, how)
	return context.WithValue(ctx, principalKey{}, p), nil
}
