package rpc

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// RequestLimits bounds what one request may ask for. A request over a
// limit is refused with InvalidArgument, before it reaches the store, by a
// message that names the limit and the serve flag that sets it; the client
// should split the request.
//
// The limits can be lowered, not raised: the store refuses more than its
// own ceilings (store.MaxEntitiesPerRead, store.MaxRowsPerWrite) whatever
// the server allows. The bytes-per-value limit is the store's
// (store.Options.WithMaxValueBytes), since every write path — WriteFeatures,
// IngestArrow, in-process callers — goes through it.
type RequestLimits struct {
	// EntitiesPerRead bounds the entity keys of one GetOnlineFeatures call
	// (--max-entities-per-read).
	EntitiesPerRead int
	// RowsPerWrite bounds the rows of one WriteFeatures call, which is one
	// atomic commit (--max-rows-per-write).
	RowsPerWrite int
}

// DefaultRequestLimits are the limits of a server not given
// WithRequestLimits: the store's ceilings.
func DefaultRequestLimits() RequestLimits {
	return RequestLimits{EntitiesPerRead: store.MaxEntitiesPerRead, RowsPerWrite: store.MaxRowsPerWrite}
}

// Check reports the first limit that is not in 1..its store ceiling, in a
// message naming its flag.
func (l RequestLimits) Check() error {
	for _, c := range []struct {
		flag   string
		n, max int
	}{
		{"--max-entities-per-read", l.EntitiesPerRead, store.MaxEntitiesPerRead},
		{"--max-rows-per-write", l.RowsPerWrite, store.MaxRowsPerWrite},
	} {
		if c.n < 1 || c.n > c.max {
			return fmt.Errorf("rpc: %s %d: give a number from 1 to %d (the store's own limit per request)", c.flag, c.n, c.max)
		}
	}
	return nil
}

// WithRequestLimits sets the per-request limits (default
// DefaultRequestLimits). Limits outside Check's range keep the default
// for that limit; serve checks them before it starts.
func WithRequestLimits(l RequestLimits) Option {
	return func(c *config) {
		d := DefaultRequestLimits()
		if l.EntitiesPerRead >= 1 && l.EntitiesPerRead <= d.EntitiesPerRead {
			d.EntitiesPerRead = l.EntitiesPerRead
		}
		if l.RowsPerWrite >= 1 && l.RowsPerWrite <= d.RowsPerWrite {
			d.RowsPerWrite = l.RowsPerWrite
		}
		c.requestLimits = &d
	}
}

// limits returns the configured request limits.
func (c *config) limits() RequestLimits {
	if c.requestLimits == nil {
		return DefaultRequestLimits()
	}
	return *c.requestLimits
}

// limitsInterceptor refuses unary requests over the RequestLimits. It runs
// after authentication, so an anonymous caller learns nothing of them.
type limitsInterceptor struct{ l RequestLimits }

func (i limitsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := i.check(req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (limitsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (limitsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func (i limitsInterceptor) check(msg any) error {
	switch m := msg.(type) {
	case *fvv1.GetOnlineFeaturesRequest:
		if n := len(m.EntityKeys); n > i.l.EntitiesPerRead {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("rpc: read of %d entity keys exceeds this server's limit of %d per request (--max-entities-per-read); split it", n, i.l.EntitiesPerRead))
		}
	case *fvv1.WriteFeaturesRequest:
		if n := len(m.Rows); n > i.l.RowsPerWrite {
			return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("rpc: write of %d rows exceeds this server's limit of %d per request (--max-rows-per-write); split it", n, i.l.RowsPerWrite))
		}
	}
	return nil
}
