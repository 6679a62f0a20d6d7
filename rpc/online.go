package rpc

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/online"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// OnlineTier is an online tier in front of the store's latest rows (package
// online keeps them, encrypted, in Redis Cluster). Writes reach it through
// the store itself (the tier wraps the store's data KV); the server only
// routes online reads to it, and asks it to delete erased subjects before
// an erasure is acknowledged.
type OnlineTier interface {
	// GetOnline answers as store.GetOnline does.
	GetOnline(ctx context.Context, view string, entityKeys, features []string) (*store.OnlineResult, error)
	// EraseSubjects deletes the subjects' copies in every view of entity.
	EraseSubjects(ctx context.Context, entity string, bis []keys.BlindIndex) error
	// Materialize copies the view's latest rows from the store.
	Materialize(ctx context.Context, view string, since time.Time, progress func(done int)) (int, error)
	// Status reports health, lag and hit rate.
	Status(ctx context.Context) online.Status
}

// WithOnlineTier serves online reads through t.
func WithOnlineTier(t OnlineTier) Option { return func(c *config) { c.online = t } }

// getOnline reads through the online tier when there is one.
func (s *Server) getOnline(ctx context.Context, view string, entityKeys, features []string) (*store.OnlineResult, error) {
	if s.cfg.online != nil {
		return s.cfg.online.GetOnline(ctx, view, entityKeys, features)
	}
	return s.backend.Store.GetOnline(ctx, view, entityKeys, features)
}

// eraseOnline deletes erased subjects from the online tier, if any; an
// erasure is acknowledged only once it succeeded.
func (s *Server) eraseOnline(ctx context.Context, entity string, receipts []store.Erasure) error {
	if s.cfg.online == nil || len(receipts) == 0 {
		return nil
	}
	bis := make([]keys.BlindIndex, len(receipts))
	for i, r := range receipts {
		bis[i] = r.BlindIndex
	}
	if err := s.cfg.online.EraseSubjects(ctx, entity, bis); err != nil {
		s.cfg.logger.Error("erasure done in the store, but the online tier did not delete the subjects' copies", "entity", entity, "subjects", len(bis), "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("the subjects were erased in the store and their keys destroyed, but the online tier (Redis) did not delete their encrypted copies, which are unreadable; run the erasure again when Redis is reachable"))
	}
	return nil
}

var errNoOnline = connect.NewError(connect.CodeFailedPrecondition, errors.New("this server runs without an online tier; start it with serve --online redis://host:port[,host:port...]"))

// materializeReportEvery throttles Materialize progress messages.
const materializeReportEvery = 200 * time.Millisecond

func (h *adminHandler) Materialize(ctx context.Context, req *connect.Request[fvv1.MaterializeRequest], stream *connect.ServerStream[fvv1.MaterializeResponse]) error {
	m := req.Msg
	detail := "materialize view " + m.View + " into the online tier"
	var since time.Time
	var sinceErr error
	if m.Since != nil {
		if sinceErr = m.Since.CheckValid(); sinceErr == nil {
			since = m.Since.AsTime()
			detail += " from " + since.UTC().Format(time.RFC3339)
		}
	}
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{View: m.View, Detail: detail})
	if err != nil {
		return err
	}
	if sinceErr != nil {
		return done(invalid(errors.New("since is not a valid time: " + sinceErr.Error())))
	}
	t := h.srv.cfg.online
	if t == nil {
		return done(errNoOnline)
	}
	start := time.Now()
	var last time.Time
	var sendErr error
	n, err := t.Materialize(ctx, m.View, since, func(d int) {
		if sendErr != nil || time.Since(last) < materializeReportEvery {
			return
		}
		last = time.Now()
		sendErr = stream.Send(&fvv1.MaterializeResponse{Done: int64(d), ElapsedSeconds: time.Since(start).Seconds()})
	})
	if err == nil {
		err = stream.Send(&fvv1.MaterializeResponse{Done: int64(n), ElapsedSeconds: time.Since(start).Seconds(), Finished: true})
	} else if !errors.Is(err, context.Canceled) {
		var se *store.Error
		if !errors.As(err, &se) {
			h.log.Error("materialize failed", "view", m.View, "copied", n, "error", err)
			err = connect.NewError(connect.CodeUnavailable, errors.New("the online tier (Redis) failed during materialize; run it again when Redis is reachable (rows already copied are kept)"))
		}
	}
	h.log.Info("online: materialize", "view", m.View, "copied", n, "elapsed", time.Since(start), "ok", err == nil)
	return done(err)
}

func (h *adminHandler) GetOnlineStatus(ctx context.Context, req *connect.Request[fvv1.GetOnlineStatusRequest]) (*connect.Response[fvv1.GetOnlineStatusResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "online tier status"})
	if err != nil {
		return nil, err
	}
	t := h.srv.cfg.online
	if t == nil {
		return connect.NewResponse(&fvv1.GetOnlineStatusResponse{}), done(nil)
	}
	s := t.Status(ctx)
	if err := done(nil); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.GetOnlineStatusResponse{
		Enabled: true, ClusterState: s.ClusterState, Up: s.Up,
		OutboxDepth: int64(s.OutboxDepth), OutboxOldestSeconds: s.OutboxOldest.Seconds(),
		Hits: s.Hits, Misses: s.Misses, Bypasses: s.Bypasses, Errors: s.Errors, CorruptCopies: s.CorruptCopies,
	}), nil
}
