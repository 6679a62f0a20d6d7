package rpc

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/privacy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// AdminService methods for privacy budgets. Every change is audited like
// any admin call.

func (h *adminHandler) SetBudget(ctx context.Context, req *connect.Request[fvv1.SetBudgetRequest]) (*connect.Response[fvv1.SetBudgetResponse], error) {
	m := req.Msg
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{View: m.View, Detail: fmt.Sprintf("budget of %s set to epsilon %g, delta %g", m.Principal, m.Epsilon, m.Delta)})
	if err != nil {
		return nil, err
	}
	acct, err := h.budgetOf(m.Principal, func() (privacy.Account, error) {
		return h.srv.backend.Ledger.Set(m.Principal, m.View, m.Epsilon, m.Delta)
	})
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.SetBudgetResponse{Account: accountToProto(m.Principal, m.View, acct)}), nil
}

func (h *adminHandler) GetBudget(ctx context.Context, req *connect.Request[fvv1.GetBudgetRequest]) (*connect.Response[fvv1.GetBudgetResponse], error) {
	m := req.Msg
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{View: m.View, Detail: "budget of " + m.Principal})
	if err != nil {
		return nil, err
	}
	acct, err := h.budgetOf(m.Principal, func() (privacy.Account, error) { return h.srv.backend.Ledger.Show(m.Principal, m.View) })
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.GetBudgetResponse{Account: accountToProto(m.Principal, m.View, acct)}), nil
}

func (h *adminHandler) ResetBudget(ctx context.Context, req *connect.Request[fvv1.ResetBudgetRequest]) (*connect.Response[fvv1.ResetBudgetResponse], error) {
	m := req.Msg
	done, err := h.admin(ctx, req.Spec(), req.Header(), audit.Record{View: m.View, Detail: "budget of " + m.Principal + " reset"})
	if err != nil {
		return nil, err
	}
	acct, err := h.budgetOf(m.Principal, func() (privacy.Account, error) { return h.srv.backend.Ledger.Reset(m.Principal, m.View) })
	if err := done(err); err != nil {
		return nil, err
	}
	return connect.NewResponse(&fvv1.ResetBudgetResponse{Account: accountToProto(m.Principal, m.View, acct)}), nil
}

// budgetOf checks the principal exists, then runs op, mapping ledger
// errors to what a client can act on.
func (h *adminHandler) budgetOf(principal string, op func() (privacy.Account, error)) (privacy.Account, error) {
	if _, err := h.srv.backend.Policy.Principal(principal); err != nil {
		return privacy.Account{}, err
	}
	acct, err := op()
	switch {
	case errors.Is(err, privacy.ErrNoBudget):
		return privacy.Account{}, connect.NewError(connect.CodeNotFound, fmt.Errorf("principal %q has no privacy budget; set one with `featurevault budget set`", principal))
	case err != nil:
		return privacy.Account{}, budgetError(err)
	}
	return acct, nil
}

func accountToProto(principal, view string, a privacy.Account) *fvv1.BudgetAccount {
	return &fvv1.BudgetAccount{
		Principal: principal, View: view,
		EpsilonTotal: a.Total.Epsilon, EpsilonSpent: a.Spent.Epsilon, EpsilonRemaining: a.Remaining.Epsilon,
		DeltaTotal: a.Total.Delta, DeltaSpent: a.Spent.Delta, DeltaRemaining: a.Remaining.Delta,
	}
}
