package rpc

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/store"
)

var storeCodes = map[store.Kind]connect.Code{
	store.KindInvalid:  connect.CodeInvalidArgument,
	store.KindNotFound: connect.CodeNotFound,
	store.KindConflict: connect.CodeFailedPrecondition,
	store.KindCorrupt:  connect.CodeDataLoss,
}

// toConnect maps a domain error to a Connect error. Store errors keep their
// message (written to reach clients: it says what to fix and holds no value
// or key); anything unexpected is logged and answered with a generic
// Internal error, so no internal detail leaks to the caller.
func toConnect(log *slog.Logger, procedure string, err error) error {
	var se *store.Error
	switch {
	case errors.As(err, &se):
		return connect.NewError(storeCodes[se.Kind], err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	log.Error("request failed", "procedure", procedure, "error", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error; the server log has the details"))
}

func invalid(err error) error {
	return connect.NewError(connect.CodeInvalidArgument, err)
}
