package rpc

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/store"
)

// adminHandler implements AdminService over the store's registry.
type adminHandler struct {
	featurevaultv1connect.UnimplementedAdminServiceHandler // removed once every method is wired
	store *store.Store
	log   *slog.Logger
}

var _ featurevaultv1connect.AdminServiceHandler = (*adminHandler)(nil)

func (h *adminHandler) ApplyEntity(_ context.Context, req *connect.Request[fvv1.ApplyEntityRequest]) (*connect.Response[fvv1.ApplyEntityResponse], error) {
	e, err := entityFromProto(req.Msg.Entity)
	if err != nil {
		return nil, invalid(err)
	}
	got, created, err := h.store.ApplyEntity(e)
	if err != nil {
		return nil, toConnect(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&fvv1.ApplyEntityResponse{Entity: entityToProto(got), Created: created}), nil
}

func (h *adminHandler) ApplyFeatureView(_ context.Context, req *connect.Request[fvv1.ApplyFeatureViewRequest]) (*connect.Response[fvv1.ApplyFeatureViewResponse], error) {
	v, err := viewFromProto(req.Msg.View)
	if err != nil {
		return nil, invalid(err)
	}
	got, res, err := h.store.ApplyView(v)
	if err != nil {
		return nil, toConnect(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&fvv1.ApplyFeatureViewResponse{View: viewToProto(got), Created: res.Created, AddedFields: res.Added}), nil
}

func (h *adminHandler) GetFeatureView(_ context.Context, req *connect.Request[fvv1.GetFeatureViewRequest]) (*connect.Response[fvv1.GetFeatureViewResponse], error) {
	v, err := h.store.View(req.Msg.Name)
	if err != nil {
		return nil, toConnect(h.log, req.Spec().Procedure, err)
	}
	e, err := h.store.Entity(v.Entity)
	if err != nil {
		return nil, toConnect(h.log, req.Spec().Procedure, err)
	}
	return connect.NewResponse(&fvv1.GetFeatureViewResponse{View: viewToProto(v), Entity: entityToProto(e)}), nil
}

func (h *adminHandler) ListFeatureViews(context.Context, *connect.Request[fvv1.ListFeatureViewsRequest]) (*connect.Response[fvv1.ListFeatureViewsResponse], error) {
	out := &fvv1.ListFeatureViewsResponse{}
	for _, v := range h.store.Views() {
		out.Views = append(out.Views, viewToProto(v))
	}
	for _, e := range h.store.Entities() {
		out.Entities = append(out.Entities, entityToProto(e))
	}
	return connect.NewResponse(out), nil
}
