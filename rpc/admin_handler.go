package rpc

import (
	"context"
	"log/slog"
	"net/http"
	"path"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/internal/specpb"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/store"
)

// adminHandler implements AdminService. Every method needs the admin action
// on "*" and is recorded in the audit log, refusals included.
type adminHandler struct {
	srv   *Server
	store *store.Store
	log   *slog.Logger
}

var _ featurevaultv1connect.AdminServiceHandler = (*adminHandler)(nil)

// admin authorises an admin call and records the decision in the audit
// log before anything changes (fail closed: an unwritable log refuses the
// call). It returns a function that maps the call's error and, when the call
// failed after all, records that too.
func (h *adminHandler) admin(ctx context.Context, spec connect.Spec, header http.Header, rec audit.Record) (func(error) error, error) {
	return h.authorize(ctx, spec, header, rec, policy.ActionAdmin, errAdminDenied)
}

// authorize is admin for a service action other than admin (backup):
// the caller needs action on "*", and denied is the refusal's message.
func (h *adminHandler) authorize(ctx context.Context, spec connect.Spec, header http.Header, rec audit.Record, action policy.Action, denied error) (func(error) error, error) {
	c, err := h.srv.callerOf(ctx, header, AdminPurpose)
	if err != nil {
		return nil, err
	}
	rec.Action = "admin:" + path.Base(spec.Procedure)
	v, err := h.srv.backend.Policy.Check(c.principal, policy.Wildcard, action, c.purpose, c.env)
	if err != nil {
		return nil, h.srv.record(ctx, c, spec.Procedure, rec, toConnect(h.log, spec.Procedure, err))
	}
	rec.Rule = v.Rule
	h.srv.cfg.telemetry.Decision(action, v.Allowed)
	if !v.Allowed {
		return nil, h.srv.record(ctx, c, spec.Procedure, rec, connect.NewError(connect.CodePermissionDenied, denied))
	}
	if err := h.srv.record(ctx, c, spec.Procedure, rec, nil); err != nil {
		return nil, err
	}
	return func(err error) error {
		if err == nil {
			return nil
		}
		return h.srv.recordFailure(ctx, c, spec.Procedure, rec, toConnect(h.log, spec.Procedure, err))
	}, nil
}

func (h *adminHandler) ApplyEntity(ctx context.Context, req *connect.Request[fvv1.ApplyEntityRequest]) (*connect.Response[fvv1.ApplyEntityResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	e, err := specpb.EntityFromProto(req.Msg.Entity)
	if err != nil {
		return nil, done(invalid(err))
	}
	got, created, err := h.store.ApplyEntity(e)
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.ApplyEntityResponse{Entity: specpb.EntityToProto(got), Created: created}), nil
}

func (h *adminHandler) ApplyFeatureView(ctx context.Context, req *connect.Request[fvv1.ApplyFeatureViewRequest]) (*connect.Response[fvv1.ApplyFeatureViewResponse], error) {
	rec := audit.Record{}
	if req.Msg.View != nil {
		rec.View = req.Msg.View.Name
	}
	done, err := h.admin(ctx, req.Spec(), req.Header(), rec)
	if err != nil {
		return nil, err
	}
	v, err := specpb.ViewFromProto(req.Msg.View)
	if err != nil {
		return nil, done(invalid(err))
	}
	got, res, err := h.store.ApplyView(v)
	if err == nil {
		// The policy must know the view's columns and tags before any
		// request can touch them.
		err = h.srv.backend.Policy.SyncView(got.Name, policy.FieldRefs(&got))
		h.srv.views.put(&got)
	}
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.ApplyFeatureViewResponse{View: specpb.ViewToProto(got), Created: res.Created, AddedFields: res.Added}), nil
}

// GetFeatureView answers admins, and also any principal that may read or
// write at least one column of the view: a writer needs the schema to send
// typed values (the CLI's put does). Names, types and tags are metadata the
// policy already lets such a principal infer.
func (h *adminHandler) GetFeatureView(ctx context.Context, req *connect.Request[fvv1.GetFeatureViewRequest]) (*connect.Response[fvv1.GetFeatureViewResponse], error) {
	name := req.Msg.Name
	rec := audit.Record{View: name}
	var done func(error) error
	if h.srv.mayUseView(ctx, req.Header(), name) {
		c, err := h.srv.callerOf(ctx, req.Header(), AdminPurpose)
		if err != nil {
			return nil, err
		}
		rec.Action = "schema"
		if err := h.srv.record(ctx, c, req.Spec().Procedure, rec, nil); err != nil {
			return nil, err
		}
		done = func(err error) error {
			if err == nil {
				return nil
			}
			return h.srv.recordFailure(ctx, c, req.Spec().Procedure, rec, toConnect(h.log, req.Spec().Procedure, err))
		}
	} else {
		var err error
		if done, err = h.admin(ctx, req.Spec(), req.Header(), rec); err != nil {
			return nil, err
		}
	}
	v, err := h.store.View(name)
	var e store.Entity
	if err == nil {
		e, err = h.store.Entity(v.Entity)
	}
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.GetFeatureViewResponse{View: specpb.ViewToProto(v), Entity: specpb.EntityToProto(e)}), nil
}

func (h *adminHandler) ListFeatureViews(ctx context.Context, req *connect.Request[fvv1.ListFeatureViewsRequest]) (*connect.Response[fvv1.ListFeatureViewsResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	out := &fvv1.ListFeatureViewsResponse{}
	for _, v := range h.store.Views() {
		out.Views = append(out.Views, specpb.ViewToProto(v))
	}
	for _, e := range h.store.Entities() {
		out.Entities = append(out.Entities, specpb.EntityToProto(e))
	}
	if err := done(nil); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}
