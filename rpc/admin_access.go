package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

var errAdminDenied = errors.New("the admin action is not granted to this principal; an admin grants it with `featurevault policy grant ROLE --action admin --on '*'`")

// AdminService methods for principals, roles and policies. Each one changes
// the policy version, so every cached decision is dropped and the next
// request is decided afresh.

func (h *adminHandler) CreatePrincipal(ctx context.Context, req *connect.Request[fvv1.CreatePrincipalRequest]) (*connect.Response[fvv1.CreatePrincipalResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "principal " + req.Msg.Name})
	if err != nil {
		return nil, err
	}
	pol := h.srv.backend.Policy
	token, err := pol.CreatePrincipal(req.Msg.Name, req.Msg.Roles, attrsFromProto(req.Msg.Attributes))
	var p policy.Principal
	if err == nil {
		p, err = pol.Principal(req.Msg.Name)
	}
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.CreatePrincipalResponse{Principal: principalToProto(p), Token: token}), nil
}

func (h *adminHandler) ListPrincipals(ctx context.Context, req *connect.Request[fvv1.ListPrincipalsRequest]) (*connect.Response[fvv1.ListPrincipalsResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	out := &fvv1.ListPrincipalsResponse{}
	for _, p := range h.srv.backend.Policy.ListPrincipals() {
		out.Principals = append(out.Principals, principalToProto(p))
	}
	if err := done(nil); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

func (h *adminHandler) RevokePrincipal(ctx context.Context, req *connect.Request[fvv1.RevokePrincipalRequest]) (*connect.Response[fvv1.RevokePrincipalResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "principal " + req.Msg.Name})
	if err != nil {
		return nil, err
	}
	if err := done(h.srv.backend.Policy.RevokePrincipal(req.Msg.Name)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.RevokePrincipalResponse{}), nil
}

func (h *adminHandler) IssueToken(ctx context.Context, req *connect.Request[fvv1.IssueTokenRequest]) (*connect.Response[fvv1.IssueTokenResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "jwt for principal " + req.Msg.Principal})
	if err != nil {
		return nil, err
	}
	ttl := time.Duration(req.Msg.TtlSeconds) * time.Second
	token, err := h.srv.backend.Policy.IssueJWT(req.Msg.Principal, ttl)
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.IssueTokenResponse{Token: token, ExpiresAt: timestamppb.New(h.srv.cfg.now().Add(ttl))}), nil
}

// AssignRole gives a principal a role; when the member is not a principal
// but a role, the member role inherits the role.
func (h *adminHandler) AssignRole(ctx context.Context, req *connect.Request[fvv1.AssignRoleRequest]) (*connect.Response[fvv1.AssignRoleResponse], error) {
	m := req.Msg
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: fmt.Sprintf("assign role %s to %s", m.Role, m.Principal)})
	if err != nil {
		return nil, err
	}
	pol := h.srv.backend.Policy
	if _, perr := pol.Principal(m.Principal); errors.Is(perr, policy.ErrPrincipalNotFound) {
		err = pol.AddRoleInheritance(m.Principal, m.Role)
	} else {
		err = pol.AssignRole(m.Principal, m.Role)
	}
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.AssignRoleResponse{}), nil
}

func (h *adminHandler) UnassignRole(ctx context.Context, req *connect.Request[fvv1.UnassignRoleRequest]) (*connect.Response[fvv1.UnassignRoleResponse], error) {
	m := req.Msg
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: fmt.Sprintf("unassign role %s from %s", m.Role, m.Principal)})
	if err != nil {
		return nil, err
	}
	pol := h.srv.backend.Policy
	if _, perr := pol.Principal(m.Principal); errors.Is(perr, policy.ErrPrincipalNotFound) {
		err = pol.RemoveRoleInheritance(m.Principal, m.Role)
	} else {
		err = pol.UnassignRole(m.Principal, m.Role)
	}
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.UnassignRoleResponse{}), nil
}

func (h *adminHandler) GrantPolicy(ctx context.Context, req *connect.Request[fvv1.GrantPolicyRequest]) (*connect.Response[fvv1.GrantPolicyResponse], error) {
	r, rerr := ruleFromProto(req.Msg.Rule)
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "grant " + r.String()})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, done(invalid(rerr))
	}
	before := h.srv.backend.Policy.Version()
	if err := done(h.srv.backend.Policy.Grant(r)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.GrantPolicyResponse{Changed: h.srv.backend.Policy.Version() != before}), nil
}

func (h *adminHandler) RevokePolicy(ctx context.Context, req *connect.Request[fvv1.RevokePolicyRequest]) (*connect.Response[fvv1.RevokePolicyResponse], error) {
	r, rerr := ruleFromProto(req.Msg.Rule)
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "revoke " + r.String()})
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, done(invalid(rerr))
	}
	if err := done(h.srv.backend.Policy.Revoke(r)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.RevokePolicyResponse{Changed: true}), nil
}

func (h *adminHandler) ListPolicies(ctx context.Context, req *connect.Request[fvv1.ListPoliciesRequest]) (*connect.Response[fvv1.ListPoliciesResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	pol := h.srv.backend.Policy
	out := &fvv1.ListPoliciesResponse{}
	for _, r := range pol.ListRules() {
		out.Rules = append(out.Rules, ruleToProto(r))
	}
	for _, p := range pol.ListPrincipals() {
		for _, role := range p.Roles {
			out.Assignments = append(out.Assignments, &fvv1.RoleAssignment{Member: p.Name, Role: role})
		}
	}
	for _, l := range pol.ListRoleInheritance() {
		out.Assignments = append(out.Assignments, &fvv1.RoleAssignment{Member: l.Role, Role: l.Inherits})
	}
	if err := done(nil); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

func (h *adminHandler) Explain(ctx context.Context, req *connect.Request[fvv1.ExplainRequest]) (*connect.Response[fvv1.ExplainResponse], error) {
	m := req.Msg
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{View: m.View, Detail: "explain for " + m.Principal})
	if err != nil {
		return nil, err
	}
	pol := h.srv.backend.Policy
	env := m.Env
	if env == "" {
		env = h.srv.cfg.env
	}
	p, err := pol.Principal(m.Principal)
	var x policy.Explanation
	if err == nil {
		if m.Purpose == "" {
			err = invalid(errors.New("explain needs the purpose to decide for: pass --purpose"))
		} else if _, err = h.srv.views.get(h.store, m.View); err == nil {
			x, err = pol.Explain(p, m.View, nil, m.Purpose, env)
		}
	}
	if err := done(err); err != nil {
		return nil, err
	}
	out := &fvv1.ExplainResponse{}
	for _, f := range x.Fields {
		for _, v := range f.Verdicts {
			out.Decisions = append(out.Decisions, &fvv1.ColumnDecision{Field: f.Field, Tags: f.Tags, Action: actionToProto[v.Action], Allowed: v.Allowed, Rule: v.Rule})
		}
	}
	return connect.NewResponse(out), nil
}

func (h *adminHandler) ReadAudit(ctx context.Context, req *connect.Request[fvv1.ReadAuditRequest]) (*connect.Response[fvv1.ReadAuditResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	m := req.Msg
	var recs []audit.Record
	switch {
	case m.Tail > 0:
		recs, err = h.srv.backend.Audit.Tail(ctx, int(m.Tail))
	default:
		limit := int(m.Limit)
		if limit <= 0 {
			limit = 1000
		}
		recs, err = h.srv.backend.Audit.Range(ctx, m.From, limit)
	}
	if err := done(err); err != nil {
		return nil, err
	}
	out := &fvv1.ReadAuditResponse{}
	for _, r := range recs {
		out.Records = append(out.Records, auditToProto(r))
	}
	return connect.NewResponse(out), nil
}

func (h *adminHandler) VerifyAudit(ctx context.Context, req *connect.Request[fvv1.VerifyAuditRequest]) (*connect.Response[fvv1.VerifyAuditResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	var cps []audit.Checkpoint
	for _, s := range req.Msg.Checkpoints {
		cp, err := audit.ParseCheckpoint(s)
		if err != nil {
			return nil, done(invalid(err))
		}
		cps = append(cps, cp)
	}
	rep, err := h.srv.backend.Audit.Verify(ctx, cps...)
	if err := done(err); err != nil {
		return nil, err
	}
	out := &fvv1.VerifyAuditResponse{Records: uint64(rep.Records), Head: rep.Head.String(), Ok: rep.OK()}
	for _, p := range rep.Problems {
		out.Problems = append(out.Problems, &fvv1.AuditProblem{Seq: p.Seq, Kind: string(p.Kind), Detail: p.Detail})
	}
	return connect.NewResponse(out), nil
}
