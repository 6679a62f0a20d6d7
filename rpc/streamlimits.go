package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// streamCutGrace is how long a stream past its limit has to end on its
// own (the handler sees its context done and the error is sent) before
// the server stops writing to it. A client that stopped reading never
// sees the error; its stream is reset instead.
const streamCutGrace = 5 * time.Second

// WithMaxStreamDuration cuts every data stream (ReadBatches,
// GetHistoricalFeatures, IngestArrow) that is still open d after it
// started. AdminService streams (Backup, RewrapKeys) are exempt: they are
// an operator's, their length grows with the store, and a cut one is a
// backup or a rewrap that never finishes; they still count towards
// WithMaxStreamsPerPrincipal. The handler's context ends,
// a client stream stops being read, and the caller gets DeadlineExceeded
// naming the limit and --max-stream-duration; rows already sent or
// written stay sent or written. A stream that does not end within a few
// seconds more (a client that stopped reading) is reset. Zero, the
// library's default, sets no limit; featurevault serve sets one.
//
// Long reads should be split (ReadBatches by start_time and end_time) so
// that each part fits the limit: a long stream pins a store snapshot.
func WithMaxStreamDuration(d time.Duration) Option {
	return func(c *config) { c.edge.maxStreamDuration = d }
}

// WithMaxStreamsPerPrincipal limits how many streams one principal may
// have open at once; the next is refused with ResourceExhausted naming
// the limit and --max-streams-per-principal, before its handler runs.
// Unary calls are not counted (the rate limit covers them). Zero, the
// library's default, sets no limit; featurevault serve sets one.
func WithMaxStreamsPerPrincipal(n int) Option {
	return func(c *config) { c.edge.maxStreamsPerPrincipal = n }
}

// errStreamTooLong is the cause of a stream context ended by the limit.
var errStreamTooLong = errors.New("rpc: stream open longer than the server's limit")

// transportKey carries a streaming call's *http.ResponseController in its
// context (set by Server.edge), so the stream limit can stop reading from
// or writing to a call whose handler is blocked on the network.
type transportKey struct{}

// streamLimiter is the interceptor that enforces the stream limits. It
// runs after authentication, so it counts streams by principal.
type streamLimiter struct {
	maxDuration  time.Duration
	perPrincipal int

	mu   sync.Mutex
	open map[string]int // streams open per principal; no zero entries
}

func newStreamLimiter(c edgeConfig) *streamLimiter {
	return &streamLimiter{maxDuration: c.maxStreamDuration, perPrincipal: c.maxStreamsPerPrincipal, open: make(map[string]int)}
}

func (l *streamLimiter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (l *streamLimiter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (l *streamLimiter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		p, ok := PrincipalFrom(ctx)
		if !ok {
			return connect.NewError(connect.CodeUnauthenticated, errNoPrincipal)
		}
		if err := l.acquire(p.Name); err != nil {
			return err
		}
		defer l.release(p.Name)
		if l.maxDuration <= 0 || isAdminProcedure(conn.Spec().Procedure) {
			return next(ctx, conn)
		}
		ctx, cancel := context.WithTimeoutCause(ctx, l.maxDuration, errStreamTooLong)
		defer cancel()
		rc, _ := ctx.Value(transportKey{}).(*http.ResponseController)
		if rc != nil {
			clientStream := conn.Spec().StreamType&connect.StreamTypeClient != 0
			stopCut := context.AfterFunc(ctx, func() {
				if clientStream && context.Cause(ctx) == errStreamTooLong {
					// Wake a handler blocked reading the next message.
					_ = rc.SetReadDeadline(time.Now())
				}
			})
			defer stopCut()
			reset := time.AfterFunc(l.maxDuration+streamCutGrace, func() {
				// Wake a handler blocked writing to a client that stopped reading.
				_ = rc.SetWriteDeadline(time.Now())
				_ = rc.SetReadDeadline(time.Now())
			})
			defer reset.Stop()
		}
		err := next(ctx, conn)
		if err != nil && context.Cause(ctx) == errStreamTooLong {
			return connect.NewError(connect.CodeDeadlineExceeded, fmt.Errorf(
				"the stream was cut after %s, the server's limit on one stream (--max-stream-duration): read or write in smaller parts (e.g. a narrower start_time..end_time), or ask the operator to raise --max-stream-duration", l.maxDuration))
		}
		return err
	}
}

// acquire counts a new stream of principal, or refuses it when the
// principal already has the most it may.
func (l *streamLimiter) acquire(principal string) error {
	if l.perPrincipal <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[principal] >= l.perPrincipal {
		return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
			"this principal already has %d streams open, the server's limit (--max-streams-per-principal): wait for one to end, or ask the operator to raise --max-streams-per-principal", l.perPrincipal))
	}
	l.open[principal]++
	return nil
}

func (l *streamLimiter) release(principal string) {
	if l.perPrincipal <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[principal]--; l.open[principal] <= 0 {
		delete(l.open, principal)
	}
}

// isAdminProcedure reports whether procedure is an AdminService method.
func isAdminProcedure(procedure string) bool {
	return strings.HasPrefix(procedure, "/"+featurevaultv1connect.AdminServiceName+"/")
}
