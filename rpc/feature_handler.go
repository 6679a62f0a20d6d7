package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/store"
)

// featureHandler implements FeatureService over the store.
type featureHandler struct {
	srv   *Server
	store *store.Store
	log   *slog.Logger
}

var _ featurevaultv1connect.FeatureServiceHandler = (*featureHandler)(nil)

func (h *featureHandler) WriteFeatures(ctx context.Context, req *connect.Request[fvv1.WriteFeaturesRequest]) (*connect.Response[fvv1.WriteFeaturesResponse], error) {
	m := req.Msg
	c, err := h.srv.callerOf(ctx, req.Header(), "")
	if err != nil {
		return nil, err
	}
	procedure := req.Spec().Procedure
	rows, written, err := rowsFromProto(m.Rows)
	if err != nil {
		return nil, err
	}
	cd, err := h.srv.decideColumns(ctx, c, m.View, written, policy.ActionWrite)
	if err != nil {
		return nil, h.srv.record(ctx, c, procedure, audit.Record{Action: "write", View: m.View, Entities: len(rows)}, toConnect(h.log, procedure, err))
	}
	rec := audit.Record{Action: "write", View: m.View, Allowed: cd.allowed, Denied: cd.denied, Entities: len(rows), Rule: cd.rule()}
	if len(cd.denied) > 0 {
		return nil, h.srv.record(ctx, c, procedure, rec, deniedError(policy.ActionWrite, m.View, cd.denied))
	}
	// A write is recorded before it happens: nothing changes unaudited.
	if err := h.srv.record(ctx, c, procedure, rec, nil); err != nil {
		return nil, err
	}
	res, err := h.store.Write(ctx, m.View, rows)
	if err != nil {
		return nil, h.srv.recordFailure(ctx, c, procedure, rec, toConnect(h.log, procedure, err))
	}
	return connect.NewResponse(&fvv1.WriteFeaturesResponse{RowsWritten: int64(res.Rows), ValuesWritten: int64(res.Values)}), nil
}

// rowsFromProto converts rows and names the written columns, sorted.
func rowsFromProto(in []*fvv1.Row) ([]store.Row, []string, error) {
	rows := make([]store.Row, len(in))
	seen := map[string]bool{}
	var written []string
	for i, r := range in {
		if r == nil {
			return nil, nil, invalid(fmt.Errorf("row %d is empty", i))
		}
		rows[i] = store.Row{EntityKey: r.EntityKey, Values: make(map[string]any, len(r.Values))}
		if r.EventTime != nil {
			if err := r.EventTime.CheckValid(); err != nil {
				return nil, nil, invalid(fmt.Errorf("row %d: invalid event_time: %w", i, err))
			}
			rows[i].EventTime = r.EventTime.AsTime()
			if rows[i].EventTime.IsZero() { // year 1: would read as "now"
				return nil, nil, invalid(fmt.Errorf("row %d: event_time is outside 1677-09-21..2262-04-11", i))
			}
		}
		for name, v := range r.Values {
			x, err := valueFromProto(v)
			if err != nil {
				return nil, nil, invalid(fmt.Errorf("row %d field %q: %w", i, name, err))
			}
			rows[i].Values[name] = x
			if !seen[name] {
				seen[name] = true
				written = append(written, name)
			}
		}
	}
	if len(written) == 0 {
		// A write of only NULLs still needs write on something: the view.
		return rows, nil, nil
	}
	slices.Sort(written)
	return rows, written, nil
}

func (h *featureHandler) GetOnlineFeatures(ctx context.Context, req *connect.Request[fvv1.GetOnlineFeaturesRequest]) (*connect.Response[fvv1.GetOnlineFeaturesResponse], error) {
	m := req.Msg
	c, err := h.srv.callerOf(ctx, req.Header(), "")
	if err != nil {
		return nil, err
	}
	procedure := req.Spec().Procedure
	cd, err := h.srv.decideColumns(ctx, c, m.View, m.Features, policy.ActionRead)
	if err != nil {
		return nil, h.srv.record(ctx, c, procedure, audit.Record{Action: "read", View: m.View, Entities: len(m.EntityKeys)}, toConnect(h.log, procedure, err))
	}
	rec := audit.Record{Action: "read", View: m.View, Allowed: cd.allowed, Denied: cd.denied, Entities: len(m.EntityKeys), Rule: cd.rule()}
	if len(cd.denied) > 0 && c.strict {
		return nil, h.srv.record(ctx, c, procedure, rec, deniedError(policy.ActionRead, m.View, cd.denied))
	}
	var res *store.OnlineResult
	if len(cd.allowed) > 0 {
		res, err = h.srv.getOnline(ctx, m.View, m.EntityKeys, cd.allowed)
	} else {
		res, err = deniedResult(m.View, m.EntityKeys)
	}
	if err != nil {
		err = toConnect(h.log, procedure, err)
	}
	if err := h.srv.record(ctx, c, procedure, rec, err); err != nil {
		return nil, err
	}
	return connect.NewResponse(onlineToProto(withDenied(res, cd))), nil
}

// deniedResult answers a read whose every column is denied without touching
// the store (so not even existence of the entities is revealed).
func deniedResult(view string, keys []string) (*store.OnlineResult, error) {
	if len(keys) == 0 {
		return nil, invalid(fmt.Errorf("read of view %q names no entity keys", view))
	}
	res := &store.OnlineResult{Rows: make([]store.OnlineRow, len(keys))}
	for i, k := range keys {
		res.Rows[i].EntityKey = k
	}
	return res, nil
}

// withDenied lays the allowed columns of res out in the requested order,
// with DENIED for the columns the policy refused.
func withDenied(res *store.OnlineResult, cd *columnDecision) *store.OnlineResult {
	if len(cd.denied) == 0 {
		return res
	}
	out := &store.OnlineResult{Features: cd.names, Rows: make([]store.OnlineRow, len(res.Rows))}
	for i, r := range res.Rows {
		o := &out.Rows[i]
		o.EntityKey, o.EventTime = r.EntityKey, r.EventTime
		o.Values = make([]any, len(cd.names))
		o.Statuses = make([]store.Status, len(cd.names))
		j := 0
		for k, ok := range cd.ok {
			if !ok {
				o.Statuses[k] = store.Denied
				continue
			}
			o.Values[k], o.Statuses[k] = r.Values[j], r.Statuses[j]
			j++
		}
	}
	return out
}

// onlineToProto converts a result with one allocation for all rows, one
// for all values and one per kind of fixed-size value (valueslabs.go), not
// one per value.
func onlineToProto(res *store.OnlineResult) *fvv1.GetOnlineFeaturesResponse {
	n := len(res.Features)
	out := &fvv1.GetOnlineFeaturesResponse{Features: res.Features, Rows: make([]*fvv1.OnlineRow, len(res.Rows))}
	rows := make([]fvv1.OnlineRow, len(res.Rows))
	values := make([]fvv1.Value, n*len(res.Rows))
	ptrs := make([]*fvv1.Value, n*len(res.Rows))
	statuses := make([]fvv1.FieldStatus, n*len(res.Rows))
	slabs := valueSlabs{size: n * len(res.Rows)}
	for i := range res.Rows {
		r := &res.Rows[i]
		o := &rows[i]
		o.EntityKey = r.EntityKey
		if !r.EventTime.IsZero() {
			o.EventTime = timestamppb.New(r.EventTime)
		}
		o.Values = ptrs[i*n : (i+1)*n : (i+1)*n]
		o.Statuses = statuses[i*n : (i+1)*n : (i+1)*n]
		for j := range n {
			v := &values[i*n+j]
			slabs.set(v, r.Values[j])
			o.Values[j] = v
			o.Statuses[j] = statusToProto[r.Statuses[j]]
		}
		out.Rows[i] = o
	}
	return out
}
