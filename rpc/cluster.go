package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/cluster"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// changesShared lists the procedures whose success changes something every
// server caches: the registry, principals and tokens, rules and roles,
// subject keys (erasure, restriction, subject key rotation) and the KEK.
// On a shared store their acknowledgement waits until every server has
// reloaded (Backend.invalidateShared).
var changesShared = map[string]bool{
	featurevaultv1connect.AdminServiceApplyEntityProcedure:       true,
	featurevaultv1connect.AdminServiceApplyFeatureViewProcedure:  true,
	featurevaultv1connect.AdminServiceCreatePrincipalProcedure:   true,
	featurevaultv1connect.AdminServiceRevokePrincipalProcedure:   true,
	featurevaultv1connect.AdminServiceIssueTokenProcedure:        true,
	featurevaultv1connect.AdminServiceAssignRoleProcedure:        true,
	featurevaultv1connect.AdminServiceUnassignRoleProcedure:      true,
	featurevaultv1connect.AdminServiceGrantPolicyProcedure:       true,
	featurevaultv1connect.AdminServiceRevokePolicyProcedure:      true,
	featurevaultv1connect.AdminServiceRotateKEKProcedure:         true,
	featurevaultv1connect.AdminServiceRotateRootProcedure:        true,
	featurevaultv1connect.AdminServiceRewrapKeysProcedure:        true,
	featurevaultv1connect.AdminServiceRetireKEKProcedure:         true,
	featurevaultv1connect.AdminServiceRotateSubjectKeyProcedure:  true,
	featurevaultv1connect.AdminServiceEraseProcedure:             true,
	featurevaultv1connect.AdminServiceRestrictSubjectProcedure:   true,
	featurevaultv1connect.AdminServiceUnrestrictSubjectProcedure: true,
	featurevaultv1connect.IdentityServiceMapIdentityProcedure:    true,
	featurevaultv1connect.IdentityServiceUnmapIdentityProcedure:  true,
}

// keyLifecycle lists the procedures that run on one server of a shared
// store at a time, under the cluster lock "keys".
var keyLifecycle = map[string]bool{
	featurevaultv1connect.AdminServiceRotateKEKProcedure:  true,
	featurevaultv1connect.AdminServiceRotateRootProcedure: true,
	featurevaultv1connect.AdminServiceRewrapKeysProcedure: true,
	featurevaultv1connect.AdminServiceRetireKEKProcedure:  true,
}

// registryOrPolicy lists the changes made from a server's in-memory copy of
// the registry or the policy (a new view's ID follows the last one this
// server knows; a rule is added to the rules it holds). On a shared store
// they run one at a time across the servers, under the cluster lock
// "admin": the lock is released only after the change is confirmed by
// every server, so the next holder starts from a copy that has it.
var registryOrPolicy = map[string]bool{
	featurevaultv1connect.AdminServiceApplyEntityProcedure:      true,
	featurevaultv1connect.AdminServiceApplyFeatureViewProcedure: true,
	featurevaultv1connect.AdminServiceCreatePrincipalProcedure:  true,
	featurevaultv1connect.AdminServiceRevokePrincipalProcedure:  true,
	featurevaultv1connect.AdminServiceIssueTokenProcedure:       true,
	featurevaultv1connect.AdminServiceAssignRoleProcedure:       true,
	featurevaultv1connect.AdminServiceUnassignRoleProcedure:     true,
	featurevaultv1connect.AdminServiceGrantPolicyProcedure:      true,
	featurevaultv1connect.AdminServiceRevokePolicyProcedure:     true,
	featurevaultv1connect.IdentityServiceMapIdentityProcedure:   true,
	featurevaultv1connect.IdentityServiceUnmapIdentityProcedure: true,
}

// adminLockWait bounds how long a registry or policy change waits for
// another server's to finish.
const adminLockWait = 30 * time.Second

// clusterInterceptor makes a server on a shared store refuse every call
// while its membership lease may have lapsed, run key operations under the
// cluster lock, and acknowledge a change only once every server has it.
// On an embedded store it does nothing.
type clusterInterceptor struct{ b *Backend }

func (c clusterInterceptor) before(ctx context.Context, procedure string) (release func(), err error) {
	if err := c.b.sharedCheck(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	if c.b.Cluster == nil {
		return func() {}, nil
	}
	if registryOrPolicy[procedure] {
		return c.waitLock(ctx, "admin")
	}
	if !keyLifecycle[procedure] {
		return func() {}, nil
	}
	release, err = c.b.Cluster.Lock(ctx, "keys")
	if errors.Is(err, cluster.ErrBusy) {
		return nil, connect.NewError(connect.CodeAborted, errors.New("rpc: another server runs a key operation (rotate, rewrap, retire) now; retry when it has finished"))
	}
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	// Another server may have changed the KEK without confirming it (it
	// died): start from the stored KEK, never overwrite it with an older one.
	if _, err := c.b.Store.Keyring().ReloadKEK(); err != nil {
		release()
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return release, nil
}

// waitLock takes the cluster lock name, waiting up to adminLockWait while
// another server holds it.
func (c clusterInterceptor) waitLock(ctx context.Context, name string) (func(), error) {
	deadline := time.Now().Add(adminLockWait)
	for {
		release, err := c.b.Cluster.Lock(ctx, name)
		switch {
		case err == nil:
			return release, nil
		case !errors.Is(err, cluster.ErrBusy):
			return nil, connect.NewError(connect.CodeUnavailable, err)
		case time.Now().After(deadline):
			return nil, connect.NewError(connect.CodeAborted, fmt.Errorf("rpc: another server's registry or policy change has held the cluster lock for %s; retry", adminLockWait))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (c clusterInterceptor) after(ctx context.Context, procedure string, err error) error {
	if err != nil || !changesShared[procedure] {
		return err
	}
	if ierr := c.b.invalidateShared(ctx); ierr != nil {
		return connect.NewError(connect.CodeUnavailable, ierr)
	}
	return nil
}

func (c clusterInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if c.b.Cluster == nil {
			return next(ctx, req)
		}
		p := req.Spec().Procedure
		release, err := c.before(ctx, p)
		if err != nil {
			return nil, err
		}
		defer release()
		resp, err := next(ctx, req)
		if err := c.after(ctx, p, err); err != nil {
			return nil, err
		}
		return resp, nil
	}
}

func (c clusterInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (c clusterInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if c.b.Cluster == nil {
			return next(ctx, conn)
		}
		p := conn.Spec().Procedure
		release, err := c.before(ctx, p)
		if err != nil {
			return err
		}
		defer release()
		return c.after(ctx, p, next(ctx, conn))
	}
}
