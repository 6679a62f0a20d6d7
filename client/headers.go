package client

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
)

// The request headers a FeatureVault server reads besides Authorization.
const (
	// HeaderPurpose states what a data request is for (training,
	// analytics, ...); the policy decides per purpose.
	HeaderPurpose = "Featurevault-Purpose"
	// HeaderStrict, "true", makes a read fail as a whole when a requested
	// column is denied.
	HeaderStrict = "Featurevault-Strict"
)

// Headers returns the headers that authenticate as token and state purpose
// and strict mode; empty values are left out.
func Headers(token, purpose string, strict bool) http.Header {
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if purpose != "" {
		h.Set(HeaderPurpose, purpose)
	}
	if strict {
		h.Set(HeaderStrict, "true")
	}
	return h
}

// HeaderInterceptor sets h on every request a Connect client sends, unary
// or streaming: pass connect.WithInterceptors(HeaderInterceptor(h)) to any
// FeatureVault service client (AdminService included) to authenticate it.
func HeaderInterceptor(h http.Header) connect.Interceptor { return headerInterceptor{h.Clone()} }

type headerInterceptor struct{ h http.Header }

func (i headerInterceptor) set(dst http.Header) {
	for k, v := range i.h {
		dst[k] = v
	}
}

func (i headerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			i.set(req.Header())
		}
		return next(ctx, req)
	}
}

func (i headerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		i.set(conn.RequestHeader())
		return conn
	}
}

func (i headerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
