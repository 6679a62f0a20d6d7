package rpc

import (
	"context"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/store"
)

// A gateway serves another protocol (Arrow Flight, flightsrv) in front of
// this server. It does not reimplement authentication, policy, audit or
// limits: it calls the server's own handlers in process, through
// Handler, with the caller's headers, so that every check is the one
// the Connect API runs. The functions below are what a gateway needs
// beyond that: its procedure named in the audit log, a place on the
// server's port, and the schemas a caller may read (for listing, which
// reads no data).

// gatewayKey carries the gateway procedure of an in-process call.
type gatewayKey struct{}

// WithGatewayProcedure marks ctx as serving procedure of a gateway (for
// example "/arrow.flight.protocol.FlightService/DoGet"): audit records of
// calls made with it name that procedure rather than the FeatureService
// method the gateway called. Only code in the server's process can set
// it; a network client cannot.
func WithGatewayProcedure(ctx context.Context, procedure string) context.Context {
	return context.WithValue(ctx, gatewayKey{}, procedure)
}

// auditProcedure is the procedure an audit record names for a call.
func auditProcedure(ctx context.Context, procedure string) string {
	if g, ok := ctx.Value(gatewayKey{}).(string); ok && g != "" {
		return g
	}
	return procedure
}

// mount is a handler served beside the services on the server's port.
type mount struct {
	prefix string
	h      http.Handler
}

// Mount serves h for every request whose path starts with prefix, on the
// server's listener, beside the Connect services (call it before Serve).
// Requests to h bypass the Connect edge (CORS, the message limit, the
// interceptors): h must authenticate on its own, as a gateway does by
// calling Handler in process.
func (s *Server) Mount(prefix string, h http.Handler) {
	s.mounts = append(s.mounts, mount{prefix: prefix, h: h})
}

// routes is Handler with the mounted handlers in front.
func (s *Server) routes() http.Handler {
	services := s.Handler()
	if len(s.mounts) == 0 {
		return services
	}
	mounts := append([]mount(nil), s.mounts...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range mounts {
			if strings.HasPrefix(r.URL.Path, m.prefix) {
				m.h.ServeHTTP(w, r)
				return
			}
		}
		services.ServeHTTP(w, r)
	})
}

// Authenticate checks a call's bearer token and takes one request from
// its principal's rate limit, as every Connect call does first. A gateway
// calls it before it reads what a client uploads (a label table), so that
// an unauthenticated client cannot make the server hold its data. The
// error is a Connect error.
func (s *Server) Authenticate(ctx context.Context, hdr http.Header) error {
	auth := &authInterceptor{policy: s.backend.Policy, limiter: s.limiter}
	_, err := auth.authenticate(ctx, hdr)
	return err
}

// ReadableView is a feature view as one caller may read it.
type ReadableView struct {
	Name        string
	Description string
	// Schema is the Arrow schema ReadBatches answers for this caller:
	// the entity key, the event time and the allowed fields only.
	Schema *arrow.Schema
	// Denied names the requested fields policy withholds.
	Denied []string
}

// ReadableViews authenticates a call by its headers (the bearer token,
// the purpose and strict mode, with the principal's rate limit) and
// returns the views the caller may read some field of, each with the
// schema it would read: every view when view is empty, else only view
// (with features, when given, the fields asked for). A named view of
// which nothing may be read, or, in strict mode, with a denied field, is
// PermissionDenied; an unknown one NotFound. It reads no data and writes
// no audit record: schemas are the registry's, not a subject's. Errors
// are Connect errors.
func (s *Server) ReadableViews(ctx context.Context, hdr http.Header, view string, features []string) ([]ReadableView, error) {
	auth := &authInterceptor{policy: s.backend.Policy, limiter: s.limiter}
	ctx, err := auth.authenticate(ctx, hdr)
	if err != nil {
		return nil, err
	}
	c, err := s.callerOf(ctx, hdr, "")
	if err != nil {
		return nil, err
	}
	var views []store.View
	if view == "" {
		views = s.backend.Store.Views()
	} else {
		v, err := s.backend.Store.View(view)
		if err != nil {
			return nil, toConnect(s.cfg.logger, "", err)
		}
		views = []store.View{v}
	}
	var out []ReadableView
	for _, v := range views {
		cd, err := s.decide(ctx, c, v.Name, features, policy.ActionRead)
		if err != nil {
			err = toConnect(s.cfg.logger, "", err)
			if view == "" && connect.CodeOf(err) == connect.CodeNotFound {
				continue // a view removed since the list was taken
			}
			return nil, err
		}
		if view != "" && len(cd.allowed) == 0 {
			return nil, permissionDenied("policy lets you read none of the requested fields of view %q", v.Name)
		}
		if view != "" && c.strict && len(cd.denied) > 0 {
			return nil, deniedError(policy.ActionRead, v.Name, cd.denied)
		}
		if len(cd.allowed) == 0 {
			continue
		}
		e, err := s.backend.Store.Entity(v.Entity)
		if err != nil {
			return nil, toConnect(s.cfg.logger, "", err)
		}
		fields := make([]store.Field, 0, len(cd.allowed))
		for _, n := range cd.allowed {
			f, _, _ := v.Field(n)
			fields = append(fields, f)
		}
		schema, err := arrowio.Schema(v, e, fields)
		if err != nil {
			return nil, connect.NewError(connect.CodeFailedPrecondition, err)
		}
		out = append(out, ReadableView{Name: v.Name, Description: v.Description, Schema: schema, Denied: cd.denied})
	}
	return out, nil
}
