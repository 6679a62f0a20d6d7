package rpc

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/tink-crypto/tink-go/v2/signature"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/audit"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// CheckpointKeyset is the name of the service keyset (keys.NamedKeyset,
// wrapped by the KEK) that signs audit checkpoints: Ed25519.
const CheckpointKeyset = "audit-checkpoint"

// checkpointConfig is when the server signs audit checkpoints on its own.
type checkpointConfig struct {
	interval     time.Duration
	everyRecords uint64
	sink         string
}

// WithAuditCheckpoints makes the server sign a checkpoint of the audit
// log every interval (0: not by time) when records were appended since
// the last one, and whenever everyRecords records (0: not by count) were
// appended since; and append each new checkpoint to sink, a file ("" for
// none). Checkpoints are also signed on demand (SignCheckpoint).
func WithAuditCheckpoints(interval time.Duration, everyRecords uint64, sink string) Option {
	return func(c *config) { c.checkpoints = checkpointConfig{interval, everyRecords, sink} }
}

// runCheckpoints signs checkpoints as configured until ctx is done.
func (s *Server) runCheckpoints(ctx context.Context) {
	cp := s.backend.Checkpoints
	if cp == nil {
		return
	}
	cp.Run(ctx, s.cfg.checkpoints.interval, s.cfg.checkpoints.everyRecords, func(err error) {
		s.cfg.logger.Error("could not sign an audit checkpoint", "error", err)
	})
}

// checkpointHandler serves CheckpointService. Every call needs the admin
// action and is audited.
type checkpointHandler struct {
	*adminHandler
}

var errNoCheckpointer = errors.New("this server signs no audit checkpoints")

func checkpointToProto(c audit.SignedCheckpoint) *fvv1.SignedCheckpoint {
	return &fvv1.SignedCheckpoint{Seq: c.Seq, Head: c.Head.String(), Time: timestamppb.New(c.Time), KeyId: c.KeyID, Signature: c.Signature}
}

func (h *checkpointHandler) SignCheckpoint(ctx context.Context, req *connect.Request[fvv1.SignCheckpointRequest]) (*connect.Response[fvv1.SignCheckpointResponse], error) {
	detail := "sign an audit checkpoint"
	if req.Msg.GetRotateKey() {
		detail = "rotate the checkpoint signing key and sign an audit checkpoint"
	}
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: detail})
	if err != nil {
		return nil, err
	}
	cp := h.srv.backend.Checkpoints
	if cp == nil {
		return nil, done(connect.NewError(connect.CodeFailedPrecondition, errNoCheckpointer))
	}
	if req.Msg.GetRotateKey() {
		kh, err := h.srv.backend.Store.Keyring().RotateNamedKeyset(CheckpointKeyset, signature.ED25519KeyTemplate())
		if err != nil {
			return nil, done(err)
		}
		if err := cp.SetKeyset(kh); err != nil {
			return nil, done(err)
		}
	}
	// The record of this call is in the log already, so the checkpoint
	// covers it.
	c, created, err := cp.Sign(ctx)
	if err != nil {
		return nil, done(err)
	}
	return connect.NewResponse(&fvv1.SignCheckpointResponse{Checkpoint: checkpointToProto(c), Created: created, KeyId: cp.KeyID()}), nil
}

func (h *checkpointHandler) ListCheckpoints(ctx context.Context, req *connect.Request[fvv1.ListCheckpointsRequest]) (*connect.Response[fvv1.ListCheckpointsResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	cps, err := audit.ListCheckpoints(ctx, h.srv.backend.Audit, req.Msg.GetAfterSeq(), int(req.Msg.GetLimit()))
	if err != nil {
		return nil, done(err)
	}
	out := &fvv1.ListCheckpointsResponse{}
	for _, c := range cps {
		out.Checkpoints = append(out.Checkpoints, checkpointToProto(c))
	}
	return connect.NewResponse(out), nil
}

func (h *checkpointHandler) GetCheckpointKeys(ctx context.Context, req *connect.Request[fvv1.GetCheckpointKeysRequest]) (*connect.Response[fvv1.GetCheckpointKeysResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	cp := h.srv.backend.Checkpoints
	if cp == nil {
		return nil, done(connect.NewError(connect.CodeFailedPrecondition, errNoCheckpointer))
	}
	pub, err := cp.PublicKeyset()
	if err != nil {
		return nil, done(err)
	}
	return connect.NewResponse(&fvv1.GetCheckpointKeysResponse{PublicKeyset: pub}), nil
}
