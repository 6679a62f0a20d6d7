package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/keys"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// AdminService methods for the key lifecycle. Each one is authorised and
// audited by admin before it acts; none returns or logs key material.

func (h *adminHandler) GetKeyStatus(ctx context.Context, req *connect.Request[fvv1.GetKeyStatusRequest]) (*connect.Response[fvv1.GetKeyStatusResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	st, err := h.store.Keyring().Status(ctx)
	if err := done(keysError(err)); err != nil {
		return nil, err
	}
	out := &fvv1.GetKeyStatusResponse{
		Kms: st.KMS, RootVersion: st.RootVersion, RootVersions: int32(st.RootVersions), RootRotated: optTime(st.RootRotated), // #nosec G115 -- a count of root key versions, small
		SubjectKeys: int64(st.Subjects), Unattributed: int64(st.Unattributed), LastRewrap: optTime(st.LastRewrap),
	}
	for _, v := range st.Versions {
		out.Versions = append(out.Versions, kekVersionToProto(v.KEKVersion, v.Subjects, v.Service))
	}
	for _, r := range st.Retired {
		out.Retired = append(out.Retired, &fvv1.RetiredKEKVersion{Id: r.ID, Retired: optTime(r.Retired)})
	}
	if c := st.Rewrap; c != nil {
		out.Rewrap = &fvv1.RewrapCursor{Target: c.Target, Done: int64(c.Done), Started: optTime(c.Started)}
	}
	return connect.NewResponse(out), nil
}

func (h *adminHandler) RotateKEK(ctx context.Context, req *connect.Request[fvv1.RotateKEKRequest]) (*connect.Response[fvv1.RotateKEKResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "rotate the KEK"})
	if err != nil {
		return nil, err
	}
	kr := h.store.Keyring()
	var prev uint32
	if st, err := kr.Status(ctx); err == nil && len(st.Versions) > 0 {
		prev = st.Versions[0].ID
	}
	v, err := kr.RotateKEK(ctx)
	if err := done(keysError(err)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.RotateKEKResponse{Version: kekVersionToProto(v, 0, 0), Previous: prev}), nil
}

func (h *adminHandler) RotateRoot(ctx context.Context, req *connect.Request[fvv1.RotateRootRequest]) (*connect.Response[fvv1.RotateRootResponse], error) {
	detail := "rotate the root key"
	if req.Msg.DestroyPrevious {
		detail += ", destroying older local versions"
	}
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: detail})
	if err != nil {
		return nil, err
	}
	r, err := h.store.Keyring().RotateRoot(ctx, req.Msg.DestroyPrevious)
	if err := done(keysError(err)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.RotateRootResponse{Rotation: rootRotationToProto(r)}), nil
}

// rewrapReportEvery throttles RewrapKeys progress messages.
const rewrapReportEvery = 200 * time.Millisecond

func (h *adminHandler) RewrapKeys(ctx context.Context, req *connect.Request[fvv1.RewrapKeysRequest], stream *connect.ServerStream[fvv1.RewrapKeysResponse]) error {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "rewrap every key under the primary KEK version"})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var last time.Time
	var sendErr error
	report := func(p keys.RewrapProgress, finished bool) {
		if sendErr != nil || (!finished && time.Since(last) < rewrapReportEvery) {
			return
		}
		last = time.Now()
		if sendErr = stream.Send(rewrapToProto(p, finished)); sendErr != nil {
			cancel() // the client went away: stop after this batch (the cursor is stored)
		}
	}
	p, err := h.store.Keyring().Rewrap(ctx, keys.RewrapOptions{
		BatchSize: int(req.Msg.BatchSize),
		Progress:  func(p keys.RewrapProgress) { report(p, false) },
	})
	if err == nil {
		report(p, true)
		err = sendErr
	}
	h.log.Info("keys: rewrap", "rewrapped", p.Done, "total", p.Total, "gone", p.Gone, "failed", p.Failed, "elapsed", p.Elapsed, "ok", err == nil)
	return done(keysError(err))
}

func (h *adminHandler) RetireKEK(ctx context.Context, req *connect.Request[fvv1.RetireKEKRequest]) (*connect.Response[fvv1.RetireKEKResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: fmt.Sprintf("retire KEK version %d", req.Msg.Version)})
	if err != nil {
		return nil, err
	}
	r, err := h.store.Keyring().RetireKEK(ctx, req.Msg.Version)
	if err := done(keysError(err)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.RetireKEKResponse{Version: r.Version, AlreadyRetired: r.AlreadyRetired, Root: rootRotationToProto(r.Root)}), nil
}

func (h *adminHandler) RotateSubjectKey(ctx context.Context, req *connect.Request[fvv1.RotateSubjectKeyRequest]) (*connect.Response[fvv1.RotateSubjectKeyResponse], error) {
	rec := audit.Record{Entities: 1, Detail: "rotate the subject key of entity " + req.Msg.Entity}
	if bi, ok := h.subjectOf(req.Msg.Entity, req.Msg.Key); ok {
		rec.Subjects = []string{bi}
	}
	done, err := h.admin(ctx, req.Spec(), req.Header(), rec)
	if err != nil {
		return nil, err
	}
	r, err := h.store.RotateSubjectKey(ctx, req.Msg.Entity, req.Msg.Key)
	if err := done(keysError(err)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.RotateSubjectKeyResponse{BlindIndex: r.BlindIndex.String(), Rows: int64(r.Rows), Views: r.Views}), nil
}

// keysErrorCodes maps the key hierarchy's sentinels to Connect codes.
var keysErrorCodes = []struct {
	err  error
	code connect.Code
}{
	{keys.ErrVersionInUse, connect.CodeFailedPrecondition},
	{keys.ErrVersionNotFound, connect.CodeNotFound},
	{keys.ErrSubjectNotFound, connect.CodeNotFound},
	{keys.ErrBusy, connect.CodeAborted},
	{keys.ErrRootUnavailable, connect.CodeUnavailable},
	{keys.ErrInvalidArgument, connect.CodeInvalidArgument},
	{keys.ErrSubjectUnwrap, connect.CodeDataLoss},
	{keys.ErrKeystoreDamaged, connect.CodeDataLoss},
}

// keysError maps an error of package keys to a Connect error with its
// message (which says what to fix and holds no key material); other errors
// pass through to toConnect.
func keysError(err error) error {
	if err == nil {
		return nil
	}
	for _, c := range keysErrorCodes {
		if errors.Is(err, c.err) {
			return connect.NewError(c.code, err)
		}
	}
	return err
}

func kekVersionToProto(v keys.KEKVersion, subjects, service int) *fvv1.KEKVersion {
	return &fvv1.KEKVersion{Id: v.ID, Primary: v.Primary, Created: optTime(v.Created), SubjectKeys: int64(subjects), ServiceKeysets: int64(service)}
}

func rootRotationToProto(r keys.RootRotation) *fvv1.RootRotation {
	return &fvv1.RootRotation{Local: r.Local, Version: r.Version, Destroyed: int32(r.Destroyed)} // #nosec G115 -- a count of root key versions, small
}

func rewrapToProto(p keys.RewrapProgress, finished bool) *fvv1.RewrapKeysResponse {
	return &fvv1.RewrapKeysResponse{
		Target: p.Target, Total: int64(p.Total), Done: int64(p.Done), Gone: int64(p.Gone), Failed: int64(p.Failed),
		Resumed: p.Resumed, ElapsedSeconds: p.Elapsed.Seconds(), Finished: finished,
	}
}

// optTime converts t, leaving the field unset for the zero time.
func optTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// KEKRotationPrincipal is the principal named in the audit records of
// scheduled key rotations. Principal names cannot hold ':', so no caller
// can pose as it.
const KEKRotationPrincipal = "system:kek-rotation"

// RunKEKRotation rotates the KEK every period until ctx is done, auditing
// each step as KEKRotationPrincipal. When the primary version is period
// old, it retires every older version that wraps nothing any more (those
// the previous cycle re-wrapped: a keystore backup has had a whole period to
// be renewed), then rotates, then re-wraps every key under the new version.
// A rewrap left unfinished by a crash is resumed at start. So the shred
// horizon under the schedule is at most two periods (see
// docs/shred-horizon.md). Failures are logged and retried at the next
// check; the check runs every period/8, between a second and an hour.
func (b *Backend) RunKEKRotation(ctx context.Context, period time.Duration, log *slog.Logger) {
	if period <= 0 {
		return
	}
	check := min(max(period/8, time.Second), time.Hour)
	t := time.NewTicker(check)
	defer t.Stop()
	b.sharedKEKStep(ctx, period, log, true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.sharedKEKStep(ctx, period, log, false)
		}
	}
}

// kekRotationStep does one check of RunKEKRotation.
func (b *Backend) kekRotationStep(ctx context.Context, period time.Duration, log *slog.Logger, starting bool) {
	kr := b.Store.Keyring()
	if starting {
		if st, err := kr.Status(ctx); err == nil && st.Rewrap != nil {
			b.scheduledRewrap(ctx, log)
		}
	}
	age, known, err := kr.PrimaryAge()
	if err != nil {
		log.Error("scheduled KEK rotation: primary age", "error", err)
		return
	}
	if known && age < period {
		return
	}
	st, err := kr.Status(ctx)
	if err != nil {
		log.Error("scheduled KEK rotation: status", "error", err)
		return
	}
	for _, v := range st.Versions {
		if v.Primary || v.Subjects+v.Service > 0 {
			continue
		}
		_, err := kr.RetireKEK(ctx, v.ID)
		b.auditSystem(ctx, fmt.Sprintf("scheduled: retire KEK version %d", v.ID), err, log)
	}
	_, err = kr.RotateKEK(ctx)
	b.auditSystem(ctx, "scheduled: rotate the KEK", err, log)
	if err == nil {
		b.scheduledRewrap(ctx, log)
	}
}

func (b *Backend) scheduledRewrap(ctx context.Context, log *slog.Logger) {
	p, err := b.Store.Keyring().Rewrap(ctx, keys.RewrapOptions{})
	b.auditSystem(ctx, fmt.Sprintf("scheduled: rewrap %d keys under KEK version %d", p.Done, p.Target), err, log)
}

// auditSystem records a step of the scheduler (and logs its failure).
func (b *Backend) auditSystem(ctx context.Context, detail string, stepErr error, log *slog.Logger) {
	rec := audit.Record{Principal: KEKRotationPrincipal, Action: "admin:ScheduledKeyRotation", Detail: detail, Outcome: "ok"}
	if stepErr != nil {
		rec.Outcome = connect.CodeOf(keysError(stepErr)).String()
		log.Error("scheduled KEK rotation", "step", detail, "error", stepErr)
	}
	if _, err := b.Audit.Append(context.WithoutCancel(ctx), rec); err != nil {
		log.Error("scheduled KEK rotation: audit append failed", "error", err)
	}
}
