package rpc

import (
	"context"
	"slices"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// identityHandler serves IdentityService: the identity mappings of the
// policy. Each call needs the admin action and is audited, the mapping
// named in the record's Detail (identifiers, never credentials).
type identityHandler struct {
	*adminHandler
}

func mappingFromProto(m *fvv1.IdentityMapping) policy.IdentityMapping {
	return policy.IdentityMapping{
		Source: policy.IdentitySource(m.GetSource()), Issuer: m.GetIssuer(), Claim: m.GetClaim(), Value: m.GetValue(),
		Principal: m.GetPrincipal(), Role: m.GetRole(), Purposes: m.GetPurposes(),
	}
}

func mappingToProto(m policy.IdentityMapping) *fvv1.IdentityMapping {
	return &fvv1.IdentityMapping{
		Source: string(m.Source), Issuer: m.Issuer, Claim: m.Claim, Value: m.Value,
		Principal: m.Principal, Role: m.Role, Purposes: m.Purposes,
	}
}

func (h *identityHandler) MapIdentity(ctx context.Context, req *connect.Request[fvv1.MapIdentityRequest]) (*connect.Response[fvv1.MapIdentityResponse], error) {
	m := mappingFromProto(req.Msg.GetMapping())
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "map " + m.String()})
	if err != nil {
		return nil, err
	}
	if err := h.srv.backend.Policy.MapIdentity(m); err != nil {
		return nil, done(err)
	}
	return connect.NewResponse(&fvv1.MapIdentityResponse{}), nil
}

func (h *identityHandler) UnmapIdentity(ctx context.Context, req *connect.Request[fvv1.UnmapIdentityRequest]) (*connect.Response[fvv1.UnmapIdentityResponse], error) {
	m := mappingFromProto(req.Msg.GetMapping())
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{Detail: "unmap " + m.String()})
	if err != nil {
		return nil, err
	}
	if err := h.srv.backend.Policy.UnmapIdentity(m); err != nil {
		return nil, done(err)
	}
	return connect.NewResponse(&fvv1.UnmapIdentityResponse{}), nil
}

func (h *identityHandler) ListIdentityMappings(ctx context.Context, req *connect.Request[fvv1.ListIdentityMappingsRequest]) (*connect.Response[fvv1.ListIdentityMappingsResponse], error) {
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{})
	if err != nil {
		return nil, err
	}
	var roles []string
	name := req.Msg.GetPrincipal()
	if name != "" {
		p, err := h.srv.backend.Policy.Principal(name)
		if err != nil {
			return nil, done(err)
		}
		roles = p.Roles
	}
	out := &fvv1.ListIdentityMappingsResponse{}
	for _, m := range h.srv.backend.Policy.ListIdentityMappings() {
		if name != "" && m.Principal != name && (m.Role == "" || !slices.Contains(roles, m.Role)) {
			continue
		}
		out.Mappings = append(out.Mappings, mappingToProto(m))
	}
	return connect.NewResponse(out), nil
}
