package rpc

import (
	"context"
	"fmt"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/store"
)

// featureHandler implements FeatureService over the store.
type featureHandler struct {
	store *store.Store
	log   *slog.Logger
}

var _ featurevaultv1connect.FeatureServiceHandler = (*featureHandler)(nil)

func (h *featureHandler) WriteFeatures(ctx context.Context, req *connect.Request[fvv1.WriteFeaturesRequest]) (*connect.Response[fvv1.WriteFeaturesResponse], error) {
	m := req.Msg
	rows := make([]store.Row, len(m.Rows))
	for i, r := range m.Rows {
		if r == nil {
			return nil, invalid(fmt.Errorf("row %d is empty", i))
		}
		rows[i] = store.Row{EntityKey: r.EntityKey, Values: make(map[string]any, len(r.Values))}
		if r.EventTime != nil {
			if err := r.EventTime.CheckValid(); err != nil {
				return nil, invalid(fmt.Errorf("row %d: invalid event_time: %w", i, err))
			}
			rows[i].EventTime = r.EventTime.AsTime()
			if rows[i].EventTime.IsZero() { // year 1: would read as "now"
				return nil, invalid(fmt.Errorf("row %d: event_time is outside 1677-09-21..2262-04-11", i))
			}
		}
		for name, v := range r.Values {
			x, err := valueFromProto(v)
			if err != nil {
				return nil, invalid(fmt.Errorf("row %d field %q: %w", i, name, err))
			}
			rows[i].Values[name] = x
		}
	}
	res, err := h.store.Write(ctx, m.View, rows)
	if err != nil {
		return nil, toConnect(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&fvv1.WriteFeaturesResponse{RowsWritten: int64(res.Rows), ValuesWritten: int64(res.Values)}), nil
}

func (h *featureHandler) GetOnlineFeatures(ctx context.Context, req *connect.Request[fvv1.GetOnlineFeaturesRequest]) (*connect.Response[fvv1.GetOnlineFeaturesResponse], error) {
	m := req.Msg
	res, err := h.store.GetOnline(ctx, m.View, m.EntityKeys, m.Features)
	if err != nil {
		return nil, toConnect(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(onlineToProto(res)), nil
}

// onlineToProto converts a result with one allocation for all rows and one
// for all values, not one per value.
func onlineToProto(res *store.OnlineResult) *fvv1.GetOnlineFeaturesResponse {
	n := len(res.Features)
	out := &fvv1.GetOnlineFeaturesResponse{Features: res.Features, Rows: make([]*fvv1.OnlineRow, len(res.Rows))}
	rows := make([]fvv1.OnlineRow, len(res.Rows))
	values := make([]fvv1.Value, n*len(res.Rows))
	ptrs := make([]*fvv1.Value, n*len(res.Rows))
	statuses := make([]fvv1.FieldStatus, n*len(res.Rows))
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
			valueToProto(v, r.Values[j])
			o.Values[j] = v
			o.Statuses[j] = statusToProto[r.Statuses[j]]
		}
		out.Rows[i] = o
	}
	return out
}
