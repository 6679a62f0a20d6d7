package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// Column actions, spelled as the access policy spells them.
const (
	actionRead  = "read"
	actionWrite = "write"
)

// The Arrow calls of FeatureService (ReadBatches, GetHistoricalFeatures,
// IngestArrow) are served by an arrowHandler, which reaches the rest of the
// server only through its fields. featureHandler fills them from the
// methods below, so wiring policy and audit into the Arrow calls means
// editing allowedColumns and recordAccess, nothing else.

// allowedColumns is the one place the Arrow handlers ask which columns of a
// view the caller may use: ReadBatches and GetHistoricalFeatures for
// actionRead, IngestArrow for actionWrite. Each calls it once per view per
// request, before touching data, with the fields the request names (every
// field of the view when it names none), and uses only what it allows: a
// denied column never reaches a record batch, an export or the store.
// Reads leave denied columns out and report them (denied_features), or fail
// as a whole in strict mode; writes refuse the request if any column is
// denied.
//
// The decision is recorded in the audit log here, before any data moves:
// a stream cannot take back batches already sent, so the log must hold
// the access first (fail closed). recordAccess adds the outcome.
func (h *featureHandler) allowedColumns(ctx context.Context, hdr http.Header, view, action string, requested []string) (allowed, denied []string, err error) {
	c, err := h.srv.callerOf(ctx, hdr, "")
	if err != nil {
		return nil, nil, err
	}
	act := policy.Action(action)
	cd, err := h.srv.decideColumns(ctx, c, view, requested, act)
	procedure := procedureOf(ctx)
	if err != nil {
		return nil, nil, h.srv.record(ctx, c, procedure, audit.Record{Action: action, View: view}, toConnect(h.log, procedure, err))
	}
	rec := audit.Record{Action: action, View: view, Allowed: cd.allowed, Denied: cd.denied, Rule: cd.rule()}
	if len(cd.denied) > 0 && (act == policy.ActionWrite || c.strict) {
		return nil, nil, h.srv.record(ctx, c, procedure, rec, deniedError(act, view, cd.denied))
	}
	if err := h.srv.record(ctx, c, procedure, rec, nil); err != nil {
		return nil, nil, err
	}
	return cd.allowed, cd.denied, nil
}

// procedureOf names the RPC being served, for audit records.
func procedureOf(ctx context.Context) string {
	if ci, ok := connect.CallInfoForHandlerContext(ctx); ok {
		return ci.Spec().Procedure
	}
	return ""
}

// access describes what one Arrow handler call did with one view, for the
// audit log. It counts subjects; it never names them.
type access struct {
	Procedure string
	View      string
	Action    string // actionRead or actionWrite
	Allowed   []string
	Denied    []string
	Rows      int64 // rows returned, or written
	Entities  int64 // distinct entities returned or looked up; for writes, rows written
	Err       error // the call's outcome; nil on success
}

// recordAccess is called at the end of every Arrow handler call, once per
// view the call touched, successful or not. The access itself was recorded
// by allowedColumns before any data moved; this adds the outcome (rows and
// entities, or the error). If that record cannot be written the call has
// already happened, so the failure is logged and the call's own outcome
// returned.
func (h *featureHandler) recordAccess(ctx context.Context, hdr http.Header, a access) error {
	c, err := h.srv.callerOf(ctx, hdr, "")
	if err != nil {
		return a.Err
	}
	rec := audit.Record{Action: a.Action + ":done", View: a.View, Allowed: a.Allowed, Denied: a.Denied, Entities: int(a.Entities), Detail: fmt.Sprintf("%d rows", a.Rows)}
	if a.Err != nil {
		return h.srv.recordFailure(ctx, c, a.Procedure, rec, toConnect(h.log, a.Procedure, a.Err))
	}
	if err := h.srv.record(ctx, c, a.Procedure, rec, nil); err != nil {
		h.log.Error("could not record the outcome of a served call", "procedure", a.Procedure)
	}
	return nil
}

// arrow returns the handler of the Arrow calls, wired to this handler's
// store, logger, policy and audit.
func (h *featureHandler) arrow() *arrowHandler {
	return &arrowHandler{store: h.store, log: h.log, columns: h.allowedColumns, record: h.recordAccess, maxBatchBytes: h.srv.cfg.maxIngestBatchBytes}
}

// ReadBatches implements FeatureServiceHandler; see arrowHandler.ReadBatches.
func (h *featureHandler) ReadBatches(ctx context.Context, req *connect.Request[fvv1.ReadBatchesRequest], stream *connect.ServerStream[fvv1.ReadBatchesResponse]) error {
	return h.arrow().ReadBatches(ctx, req, stream)
}

// GetHistoricalFeatures implements FeatureServiceHandler; see
// arrowHandler.GetHistoricalFeatures.
func (h *featureHandler) GetHistoricalFeatures(ctx context.Context, req *connect.Request[fvv1.GetHistoricalFeaturesRequest], stream *connect.ServerStream[fvv1.GetHistoricalFeaturesResponse]) error {
	return h.arrow().GetHistoricalFeatures(ctx, req, stream)
}

// IngestArrow implements FeatureServiceHandler; see arrowHandler.IngestArrow.
func (h *featureHandler) IngestArrow(ctx context.Context, stream *connect.ClientStream[fvv1.IngestArrowRequest]) (*connect.Response[fvv1.IngestArrowResponse], error) {
	return h.arrow().IngestArrow(ctx, stream)
}

// arrowHandler serves the Arrow calls of FeatureService.
type arrowHandler struct {
	store   *store.Store
	log     *slog.Logger
	columns func(ctx context.Context, hdr http.Header, view, action string, requested []string) (allowed, denied []string, err error)
	record  func(ctx context.Context, hdr http.Header, a access) error
	// maxBatchBytes bounds one record batch a client sends.
	maxBatchBytes int64
}
