package rpc

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

var actionToProto = map[policy.Action]fvv1.Action{
	policy.ActionRead:      fvv1.Action_ACTION_READ,
	policy.ActionAggregate: fvv1.Action_ACTION_AGGREGATE,
	policy.ActionWrite:     fvv1.Action_ACTION_WRITE,
	policy.ActionAdmin:     fvv1.Action_ACTION_ADMIN,
	policy.ActionBackup:    fvv1.Action_ACTION_BACKUP,
}

func attrsFromProto(in map[string]*fvv1.StringList) map[string][]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = v.GetValues()
	}
	return out
}

func principalToProto(p policy.Principal) *fvv1.Principal {
	out := &fvv1.Principal{Name: p.Name, Roles: p.Roles, Revoked: p.Revoked, Attributes: map[string]*fvv1.StringList{}}
	if !p.CreatedAt.IsZero() {
		out.CreatedAt = timestamppb.New(p.CreatedAt)
	}
	for k, v := range p.Attrs {
		out.Attributes[k] = &fvv1.StringList{Values: v}
	}
	return out
}

func ruleFromProto(r *fvv1.Rule) (policy.Rule, error) {
	if r == nil {
		return policy.Rule{}, fmt.Errorf("the request has no rule")
	}
	a, ok := lookupReverse(actionToProto, r.Action)
	if !ok {
		return policy.Rule{}, fmt.Errorf("rule action is missing or unknown; use read, aggregate, write, admin or backup")
	}
	return policy.Rule{Role: r.Role, Action: a, Object: r.Object, Purpose: r.Purpose, Env: r.Env, Deny: r.Deny}, nil
}

func ruleToProto(r policy.Rule) *fvv1.Rule {
	return &fvv1.Rule{Role: r.Role, Action: actionToProto[r.Action], Object: r.Object, Purpose: r.Purpose, Env: r.Env, Deny: r.Deny}
}

func auditToProto(r audit.Record) *fvv1.AuditRecord {
	return &fvv1.AuditRecord{
		Seq: r.Seq, Time: timestamppb.New(r.Time), Principal: r.Principal, Action: r.Action,
		Procedure: r.Procedure, View: r.View, Allowed: r.Allowed, Denied: r.Denied,
		Entities: int64(r.Entities), Subjects: r.Subjects, Purpose: r.Purpose, Env: r.Env,
		Rule: r.Rule, Epsilon: r.Epsilon, Delta: r.Delta, Outcome: r.Outcome, Detail: r.Detail,
		PrevHash: r.PrevHash.String(), Hash: r.Hash.String(), Auth: r.Auth,
	}
}
