package rpc

import (
	"context"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

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
// Reads leave denied columns out and report them (denied_features); writes
// refuse the request if any column is denied.
//
// allowed must keep the order of requested; denied lists the rest. An
// error fails the request as it is (a Connect error, e.g.
// CodePermissionDenied in strict mode, CodeUnauthenticated).
//
// Today it allows every requested column. The policy layer replaces this
// body with the decision for the principal, purpose and environment of the
// request (ctx and hdr: see DESIGN.md, "Access policy").
func (h *featureHandler) allowedColumns(ctx context.Context, hdr http.Header, view, action string, requested []string) (allowed, denied []string, err error) {
	return requested, nil, nil
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
// view the call touched, successful or not. What it returns is what the
// handler returns, so an audit log that cannot be written can fail the call
// (fail closed). Today it returns a.Err: the audit layer replaces its body
// with an append to the audit log.
func (h *featureHandler) recordAccess(ctx context.Context, hdr http.Header, a access) error {
	return a.Err
}

// arrow returns the handler of the Arrow calls, wired to this handler's
// store, logger, policy and audit.
func (h *featureHandler) arrow() *arrowHandler {
	return &arrowHandler{store: h.store, log: h.log, columns: h.allowedColumns, record: h.recordAccess}
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
}
