package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/internal/specpb"
	"github.com/featurevault/featurevault/keys"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// AdminService methods for data subjects' rights: erasure, access and
// portability, restriction. Subjects are named in audit records and
// responses by blind index only; the raw entity key travels only in the
// request (and, for an export, in the answer to the admin who asked).

func (h *adminHandler) Erase(ctx context.Context, req *connect.Request[fvv1.EraseRequest]) (*connect.Response[fvv1.EraseResponse], error) {
	m := req.Msg
	detail := fmt.Sprintf("erase %d subjects of entity %s", len(m.Keys), m.Entity)
	if m.Suppress {
		detail += ", with suppression"
	}
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Entities: len(m.Keys), Detail: detail})
	if err != nil {
		return nil, err
	}
	receipts, err := h.store.Erase(ctx, m.Entity, m.Keys, store.EraseOptions{Suppress: m.Suppress})
	if err == nil {
		err = h.srv.eraseOnline(ctx, m.Entity, receipts)
	}
	if err := done(err); err != nil {
		return nil, err
	}
	h.srv.cfg.telemetry.Erased(erasedSubjects(receipts)) // erased, whatever happens to the receipts
	c, err := h.srv.callerOf(ctx, req.Header(), AdminPurpose)
	if err != nil {
		return nil, err
	}
	out := &fvv1.EraseResponse{Receipts: make([]*fvv1.ErasureReceipt, len(receipts))}
	seqs := map[string]uint64{} // a key given twice has one receipt record
	for i, r := range receipts {
		bi := r.BlindIndex.String()
		seq, ok := seqs[bi]
		if !ok {
			rec, err := h.srv.backend.Audit.Append(context.WithoutCancel(ctx), audit.Record{
				Principal: c.principal.Name, Auth: authFrom(ctx), Action: "erase", Procedure: req.Spec().Procedure,
				Purpose: c.purpose, Env: c.env, Entities: 1, Subjects: []string{bi},
				Outcome: "ok", Detail: erasureDetail(m.Entity, r),
			})
			if err != nil {
				h.log.Error("erasure done but its receipt could not be appended to the audit log", "subject", bi, "error", err)
				return nil, connect.NewError(connect.CodeUnavailable, errors.New("the subjects were erased, but their receipts could not be written to the audit log; the server log names them"))
			}
			seq = rec.Seq
			seqs[bi] = seq
		}
		out.Receipts[i] = &fvv1.ErasureReceipt{
			BlindIndex: bi, KeyDestroyed: r.KeyDestroyed, RecordDeleted: r.RecordDeleted, Rows: int64(r.Rows),
			Views: r.Views, Suppressed: r.Suppressed, ErasedAt: timestamppb.New(r.ErasedAt), AuditSeq: seq,
		}
	}
	return connect.NewResponse(out), nil
}

// erasureDetail says what an erasure destroyed, in a fixed phrase with
// counts (an audit record's Detail holds no input).
func erasureDetail(entity string, r store.Erasure) string {
	var parts []string
	if r.KeyDestroyed {
		parts = append(parts, "subject key destroyed")
	}
	if r.RecordDeleted {
		parts = append(parts, "subject record deleted")
	}
	if r.Rows > 0 {
		parts = append(parts, fmt.Sprintf("%d rows deleted in %d views", r.Rows, len(r.Views)))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing was stored")
	}
	if r.Suppressed {
		parts = append(parts, "later writes suppressed")
	}
	return "erasure of a subject of entity " + entity + ": " + strings.Join(parts, "; ")
}

func (h *adminHandler) ExportSubject(ctx context.Context, req *connect.Request[fvv1.ExportSubjectRequest]) (*connect.Response[fvv1.ExportSubjectResponse], error) {
	m := req.Msg
	rec := audit.Record{Entities: 1, Detail: "export a subject of entity " + m.Entity}
	if bi, ok := h.subjectOf(m.Entity, m.Key); ok {
		rec.Subjects = []string{bi}
	}
	done, err := h.admin(ctx, req.Spec(), req.Header(), rec)
	if err != nil {
		return nil, err
	}
	x, err := h.store.ExportSubject(ctx, m.Entity, m.Key, store.ExportSubjectOptions{AllRows: m.AllRows})
	if err := done(err); err != nil {
		return nil, err
	}
	out := &fvv1.ExportSubjectResponse{Entity: x.Entity, EntityKey: x.EntityKey, BlindIndex: x.BlindIndex.String()}
	for _, v := range x.Views {
		pv := &fvv1.SubjectViewRows{View: v.View, Fields: specpb.ViewToProto(store.View{Fields: v.Fields}).Fields}
		for _, r := range v.Rows {
			pr := &fvv1.SubjectRow{EventTime: timestamppb.New(r.EventTime), CreatedTime: timestamppb.New(r.CreatedTime), Expired: r.Expired}
			for _, val := range r.Values {
				pval := &fvv1.Value{}
				valueToProto(pval, val)
				pr.Values = append(pr.Values, pval)
			}
			pv.Rows = append(pv.Rows, pr)
		}
		out.Views = append(out.Views, pv)
	}
	for _, r := range x.Restrictions {
		out.Restrictions = append(out.Restrictions, &fvv1.SubjectRestriction{Purpose: r.Purpose, Since: timestamppb.New(r.Since)})
	}
	return connect.NewResponse(out), nil
}

func (h *adminHandler) RestrictSubject(ctx context.Context, req *connect.Request[fvv1.RestrictSubjectRequest]) (*connect.Response[fvv1.RestrictSubjectResponse], error) {
	bi, changed, err := h.restriction(ctx, req.Spec(), req.Header(), req.Msg.Entity, req.Msg.Key, req.Msg.Purpose, true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.RestrictSubjectResponse{BlindIndex: bi, Changed: changed}), nil
}

func (h *adminHandler) UnrestrictSubject(ctx context.Context, req *connect.Request[fvv1.UnrestrictSubjectRequest]) (*connect.Response[fvv1.UnrestrictSubjectResponse], error) {
	bi, changed, err := h.restriction(ctx, req.Spec(), req.Header(), req.Msg.Entity, req.Msg.Key, req.Msg.Purpose, false)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.UnrestrictSubjectResponse{BlindIndex: bi, Changed: changed}), nil
}

// restriction adds or lifts a restriction, audited.
func (h *adminHandler) restriction(ctx context.Context, spec connect.Spec, header http.Header, entity, key, purpose string, add bool) (string, bool, error) {
	verb := "lift the restriction of"
	if add {
		verb = "restrict"
	}
	rec := audit.Record{Entities: 1, Detail: fmt.Sprintf("%s a subject of entity %s for purpose %s", verb, entity, purpose)}
	if bi, ok := h.subjectOf(entity, key); ok {
		rec.Subjects = []string{bi}
	}
	done, err := h.admin(ctx, spec, header, rec)
	if err != nil {
		return "", false, err
	}
	var bi keys.BlindIndex
	var changed bool
	if add {
		bi, changed, err = h.store.Restrict(ctx, entity, key, purpose)
	} else {
		bi, changed, err = h.store.Unrestrict(ctx, entity, key, purpose)
	}
	if err := done(err); err != nil {
		return "", false, err
	}
	return bi.String(), changed, nil
}

// subjectOf returns the blind index of (entity, key) in hex, for the audit
// record written before a call acts; false when the entity or key is
// invalid (the call then fails and says why).
func (h *adminHandler) subjectOf(entity, key string) (string, bool) {
	e, err := h.store.Entity(entity)
	if err != nil {
		return "", false
	}
	canon, err := store.CanonicalEntityKey(&e, key)
	if err != nil {
		return "", false
	}
	bi, err := h.store.Keyring().BlindIndex(e.Name, canon)
	if err != nil {
		return "", false
	}
	return bi.String(), true
}
