package rpc

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/privacy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

var aggregateFns = map[fvv1.AggregateFunction]privacy.Fn{
	fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT:     privacy.Count,
	fvv1.AggregateFunction_AGGREGATE_FUNCTION_SUM:       privacy.Sum,
	fvv1.AggregateFunction_AGGREGATE_FUNCTION_MEAN:      privacy.Mean,
	fvv1.AggregateFunction_AGGREGATE_FUNCTION_HISTOGRAM: privacy.Histogram,
}

// Aggregate answers a differentially private aggregate of one column.
//
// The order is what makes the guarantee hold: the policy must grant the
// aggregate action on the column; the query is validated; the caller's
// budget is charged atomically before anything is computed; the answer is
// computed with noise; the audit log records it (with the epsilon spent);
// only then is it released. A failure before release refunds the charge.
func (h *featureHandler) Aggregate(ctx context.Context, req *connect.Request[fvv1.AggregateRequest]) (*connect.Response[fvv1.AggregateResponse], error) {
	m := req.Msg
	procedure := req.Spec().Procedure
	c, err := h.srv.callerOf(ctx, req.Header(), "")
	if err != nil {
		return nil, err
	}
	rec := audit.Record{Action: "aggregate", View: m.View}
	fail := func(err error) error {
		return h.srv.record(ctx, c, procedure, rec, toConnect(h.log, procedure, err))
	}
	if m.Field == "" {
		return nil, fail(invalid(errors.New("name the field to aggregate")))
	}
	cd, err := h.srv.decideColumns(ctx, c, m.View, []string{m.Field}, policy.ActionAggregate)
	if err != nil {
		return nil, fail(err)
	}
	rec.Allowed, rec.Denied, rec.Rule = cd.allowed, cd.denied, cd.rule()
	if len(cd.denied) > 0 {
		return nil, fail(deniedError(policy.ActionAggregate, m.View, cd.denied))
	}
	q, err := h.query(m)
	if err != nil {
		return nil, fail(err)
	}
	start, err := optionalTime("start_time", m.StartTime)
	if err != nil {
		return nil, fail(err)
	}
	end, err := optionalTime("end_time", m.EndTime)
	if err != nil {
		return nil, fail(err)
	}
	cost, err := q.Cost()
	if err != nil {
		return nil, fail(invalid(err))
	}
	charge, err := h.srv.backend.Ledger.Charge(c.principal.Name, m.View, cost.Epsilon, cost.Delta)
	if err != nil {
		return nil, fail(budgetError(err))
	}
	feed := func(emit func([]byte, float64) error) error {
		return h.store.ColumnValues(ctx, m.View, m.Field, start, end, emit)
	}
	res, err := privacy.Aggregate(q, feed, privacy.DefaultOptions().WithSortedSubjects(true))
	rec.Epsilon, rec.Delta = cost.Epsilon, cost.Delta
	if err == nil {
		err = h.srv.record(ctx, c, procedure, rec, nil)
	}
	if err != nil {
		if rerr := charge.Refund(); rerr != nil {
			h.log.Error("privacy budget refund failed", "procedure", procedure, "error", rerr)
		}
		rec.Epsilon, rec.Delta = 0, 0
		if connect.CodeOf(err) == connect.CodeUnavailable {
			return nil, err // the audit log itself failed
		}
		return nil, fail(err)
	}
	h.srv.cfg.telemetry.SpentEpsilon(cost.Epsilon) // released: no refund can follow
	left := charge.Account().Remaining
	out := &fvv1.AggregateResponse{
		Value: res.Value, EpsilonSpent: res.Spent.Epsilon, DeltaSpent: res.Spent.Delta,
		EpsilonRemaining: left.Epsilon, DeltaRemaining: left.Delta,
		Mechanism: res.Mechanism, GridStep: res.GridStep, NoiseStddev: res.StdDev,
	}
	for _, n := range res.Counts {
		out.Counts = append(out.Counts, float64(n))
	}
	return connect.NewResponse(out), nil
}

// query builds the privacy query of a request: bounds come from the field's
// declaration, the rest from the request.
func (h *featureHandler) query(m *fvv1.AggregateRequest) (privacy.Query, error) {
	fn, ok := aggregateFns[m.Function]
	if !ok {
		return privacy.Query{}, invalid(errors.New("aggregate function missing or unknown: use count, sum, mean or histogram"))
	}
	v, err := h.store.View(m.View)
	if err != nil {
		return privacy.Query{}, err
	}
	f, _, _ := v.Field(m.Field)
	q := privacy.Query{Fn: fn, Epsilon: m.Epsilon, Delta: m.Delta, MaxContributions: int(m.MaxContributions), Buckets: m.Buckets}
	if fn == privacy.Histogram && len(q.Buckets) == 0 {
		if len(f.Buckets) == 0 {
			return privacy.Query{}, invalid(fmt.Errorf("field %q declares no buckets: declare buckets: [edges...] in the spec, or give buckets in the request", f.Name))
		}
		q.Buckets = f.Buckets
	}
	if q.MaxContributions == 0 {
		q.MaxContributions = 1
	}
	if fn == privacy.Sum || fn == privacy.Mean {
		switch {
		case f.Type != store.Int64 && f.Type != store.Float64:
			return privacy.Query{}, invalid(fmt.Errorf("field %q is %s: sum and mean need an int64 or float64 field", f.Name, f.Type))
		case len(f.Bounds) != 2:
			return privacy.Query{}, invalid(fmt.Errorf("field %q declares no bounds: declare bounds: [min, max] in the spec, so contributions can be clamped", f.Name))
		}
		q.Bounds = [2]float64{f.Bounds[0], f.Bounds[1]}
	}
	if err := q.Validate(); err != nil {
		return privacy.Query{}, invalid(err)
	}
	return q, nil
}

// budgetError maps ledger refusals: an exhausted or missing budget is
// ResourceExhausted, saying what is left.
func budgetError(err error) error {
	if errors.Is(err, privacy.ErrBudgetExhausted) || errors.Is(err, privacy.ErrNoBudget) {
		return connect.NewError(connect.CodeResourceExhausted, err)
	}
	if errors.Is(err, privacy.ErrInvalid) {
		return invalid(err)
	}
	return err
}
