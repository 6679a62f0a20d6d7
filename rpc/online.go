package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/keys"
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
