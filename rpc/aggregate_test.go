package rpc_test

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func incomeRow(key string, at time.Time, income float64) *fvv1.Row {
	return &fvv1.Row{EntityKey: key, EventTime: timestamppb.New(at), Values: map[string]*fvv1.Value{"income": {Kind: &fvv1.Value_Float64Value{Float64Value: income}}}}
}

// aggFixture is the policy fixture (whose c-1 has one income row; income
// declares bounds and buckets in testSpec) with ten more subjects with one
// row each and one subject with 1 000 rows.
func aggFixture(t *testing.T) *policyFixture {
	t.Helper()
	f := newPolicyFixture(t)
	ctx := t.Context()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []*fvv1.Row
	for i := range 10 {
		rows = append(rows, incomeRow(fmt.Sprintf("s-%d", i), base, 1000*float64(i+1)))
	}
	for i := range 1000 {
		rows = append(rows, incomeRow("heavy", base.Add(time.Duration(i)*time.Minute), 99999))
	}
	if _, err := f.s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: rows})); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *policyFixture) aggregate(t *testing.T, who string, req *fvv1.AggregateRequest) (*fvv1.AggregateResponse, error) {
	t.Helper()
	res, err := f.feature(who, "analytics").Aggregate(t.Context(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func (f *policyFixture) setBudget(t *testing.T, who string, eps, delta float64) {
	t.Helper()
	if _, err := f.s.admin.SetBudget(t.Context(), connect.NewRequest(&fvv1.SetBudgetRequest{Principal: who, Epsilon: eps, Delta: delta})); err != nil {
		t.Fatal(err)
	}
}

func TestAggregateChargesBudgetAndNeverReleasesAValue(t *testing.T) {
	t.Parallel()
	f := aggFixture(t)
	count := func(eps float64) *fvv1.AggregateRequest {
		return &fvv1.AggregateRequest{View: "profile", Field: "income", Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, Epsilon: eps}
	}
	if _, err := f.aggregate(t, "alice", count(0.5)); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("without a budget: %v, want ResourceExhausted", err)
	}
	f.setBudget(t, "alice", 1, 0)
	res, err := f.aggregate(t, "alice", count(0.5))
	if err != nil {
		t.Fatal(err)
	}
	if res.EpsilonSpent != 0.5 || res.EpsilonRemaining != 0.5 || res.Mechanism != "discrete_laplace" {
		t.Errorf("spent %g, remaining %g, mechanism %q; want 0.5, 0.5, discrete_laplace", res.EpsilonSpent, res.EpsilonRemaining, res.Mechanism)
	}
	if _, err := f.aggregate(t, "alice", count(0.5)); err != nil {
		t.Fatal(err)
	}
	_, err = f.aggregate(t, "alice", count(0.1))
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "remain") {
		t.Errorf("over budget: %v, want ResourceExhausted saying what remains", err)
	}
	// alice may aggregate income but never read it.
	if got := f.try(t.Context(), "alice", "analytics", read, "income"); got != "deny" {
		t.Errorf("alice reading income: %s, want deny", got)
	}
	// bob may read but holds no aggregate rule.
	f.setBudget(t, "bob", 10, 0)
	if _, err := f.aggregate(t, "bob", count(0.5)); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("bob without the aggregate action: %v, want PermissionDenied", err)
	}
	// The audit log records the epsilon charged.
	recs, err := f.s.admin.ReadAudit(t.Context(), connect.NewRequest(&fvv1.ReadAuditRequest{Tail: 50}))
	if err != nil {
		t.Fatal(err)
	}
	var charged float64
	for _, r := range recs.Msg.Records {
		if r.Action == "aggregate" && r.Principal == "alice" {
			charged += r.Epsilon
		}
	}
	if charged != 1 {
		t.Errorf("audit records charge alice epsilon %g in all, want 1", charged)
	}
}

func TestAggregateRefusesBadParameters(t *testing.T) {
	t.Parallel()
	f := aggFixture(t)
	f.setBudget(t, "alice", 100, 0.5)
	req := func(fn fvv1.AggregateFunction, eps, delta float64, field string) *fvv1.AggregateRequest {
		return &fvv1.AggregateRequest{View: "profile", Field: field, Function: fn, Epsilon: eps, Delta: delta}
	}
	count, mean := fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, fvv1.AggregateFunction_AGGREGATE_FUNCTION_MEAN
	tests := []struct {
		name string
		req  *fvv1.AggregateRequest
		code connect.Code
	}{
		{"NaN epsilon", req(count, math.NaN(), 0, "income"), connect.CodeInvalidArgument},
		{"infinite epsilon", req(count, math.Inf(1), 0, "income"), connect.CodeInvalidArgument},
		{"zero epsilon", req(count, 0, 0, "income"), connect.CodeInvalidArgument},
		{"negative epsilon", req(count, -1, 0, "income"), connect.CodeInvalidArgument},
		{"delta 1", req(count, 1, 1, "income"), connect.CodeInvalidArgument},
		{"negative delta", req(count, 1, -0.1, "income"), connect.CodeInvalidArgument},
		{"no function", req(0, 1, 0, "income"), connect.CodeInvalidArgument},
		{"mean without bounds", req(mean, 1, 0, "email"), connect.CodeInvalidArgument},
		{"no field", req(count, 1, 0, ""), connect.CodeInvalidArgument},
		{"unknown field", req(count, 1, 0, "height"), connect.CodeNotFound},
	}
	for _, tc := range tests {
		_, err := f.aggregate(t, "alice", tc.req)
		if connect.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.code)
		}
	}
	acct, err := f.s.admin.GetBudget(t.Context(), connect.NewRequest(&fvv1.GetBudgetRequest{Principal: "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	if acct.Msg.Account.EpsilonSpent != 0 {
		t.Errorf("refused queries spent epsilon %g, want 0", acct.Msg.Account.EpsilonSpent)
	}
}

// TestAggregateBoundsContributions: with a very large epsilon the noise is
// (with overwhelming probability) zero, so the answers show the bounding:
// the subject with 1 000 rows counts once, its values are clamped.
func TestAggregateBoundsContributions(t *testing.T) {
	t.Parallel()
	f := aggFixture(t)
	f.setBudget(t, "alice", 1e6, 0)
	res, err := f.aggregate(t, "alice", &fvv1.AggregateRequest{View: "profile", Field: "income", Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, Epsilon: 1e4, MaxContributions: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 12 subjects: s-0..s-9, heavy, and the fixture's c-1.
	if res.Value != 12 {
		t.Errorf("count with one row per subject = %g, want 12 (11 light subjects + 1 heavy)", res.Value)
	}
	res, err = f.aggregate(t, "alice", &fvv1.AggregateRequest{View: "profile", Field: "income", Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, Epsilon: 1e4, MaxContributions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Value != 14 {
		t.Errorf("count with three rows per subject = %g, want 14", res.Value)
	}
	res, err = f.aggregate(t, "alice", &fvv1.AggregateRequest{View: "profile", Field: "income", Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_HISTOGRAM, Epsilon: 1e4, MaxContributions: 1, Buckets: []float64{0, 5000, 50000, 100000}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Counts) != "[4 6 2]" {
		t.Errorf("histogram = %v, want [4 6 2]", res.Counts)
	}
	// Without buckets in the request, the field's declared buckets apply.
	res, err = f.aggregate(t, "alice", &fvv1.AggregateRequest{View: "profile", Field: "income", Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_HISTOGRAM, Epsilon: 1e4})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Counts) != "[4 6 2]" {
		t.Errorf("histogram over the declared buckets = %v, want [4 6 2]", res.Counts)
	}
}

func TestConcurrentAggregatesNeverOverspend(t *testing.T) {
	t.Parallel()
	f := aggFixture(t)
	f.setBudget(t, "alice", 1, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.aggregate(t, "alice", &fvv1.AggregateRequest{View: "profile", Field: "income", Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, Epsilon: 0.25})
			if err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if connect.CodeOf(err) != connect.CodeResourceExhausted {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 4 {
		t.Errorf("%d queries of epsilon 0.25 succeeded on a budget of 1, want exactly 4", ok)
	}
}
