package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/store"
)

var storeCodes = map[store.Kind]connect.Code{
	store.KindInvalid:  connect.CodeInvalidArgument,
	store.KindNotFound: connect.CodeNotFound,
	store.KindConflict: connect.CodeFailedPrecondition,
	store.KindCorrupt:  connect.CodeDataLoss,
}

// domainCodes maps sentinel errors of the domain packages to Connect codes.
// Their messages are written to reach clients: they say what to fix and
// hold no value, key or token.
var domainCodes = []struct {
	err  error
	code connect.Code
}{
	{policy.ErrUnauthenticated, connect.CodeUnauthenticated},
	{policy.ErrPurposeNotAllowed, connect.CodePermissionDenied},
	{policy.ErrEnvNotAllowed, connect.CodePermissionDenied},
	{policy.ErrInvalidName, connect.CodeInvalidArgument},
	{policy.ErrInvalidAction, connect.CodeInvalidArgument},
	{policy.ErrInvalidTTL, connect.CodeInvalidArgument},
	{policy.ErrPrincipalExists, connect.CodeAlreadyExists},
	{policy.ErrPrincipalNotFound, connect.CodeNotFound},
	{policy.ErrPrincipalRevoked, connect.CodeFailedPrecondition},
	{policy.ErrRoleNotAssigned, connect.CodeNotFound},
	{policy.ErrRuleNotFound, connect.CodeNotFound},
	{policy.ErrRoleCycle, connect.CodeFailedPrecondition},
	{policy.ErrJWTDisabled, connect.CodeFailedPrecondition},
	{audit.ErrInvalidArgument, connect.CodeInvalidArgument},
	{policy.ErrUnmappedIdentity, connect.CodePermissionDenied},
	{policy.ErrInvalidMapping, connect.CodeInvalidArgument},
	{policy.ErrMappingExists, connect.CodeAlreadyExists},
	{policy.ErrMappingNotFound, connect.CodeNotFound},
	{audit.ErrTampered, connect.CodeFailedPrecondition},
}

// toConnect maps a domain error to a Connect error. Store and policy errors
// keep their message; anything unexpected is logged and answered with a
// generic Internal error, so no internal detail leaks to the caller.
func toConnect(log *slog.Logger, procedure string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	var se *store.Error
	switch {
	case errors.Is(err, kv.ErrUnavailable):
		log.Warn("storage engine unavailable", "procedure", procedure, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("the storage engine is unavailable; retry shortly (retrying a write that got this answer is safe)"))
	case errors.As(err, &se):
		return connect.NewError(storeCodes[se.Kind], err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	for _, d := range domainCodes {
		if errors.Is(err, d.err) {
			return connect.NewError(d.code, err)
		}
	}
	log.Error("request failed", "procedure", procedure, "error", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error; the server log has the details"))
}

func invalid(err error) error {
	return connect.NewError(connect.CodeInvalidArgument, err)
}
