package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/internal/loadgen"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// soakWriteOp writes rows rows of random entities, each at one of versions
// event times (seedTime plus 1..versions hours), with the seeded values.
// Unlike writeOp, whose rows are stamped now and so add history for ever,
// it overwrites a bounded set of rows: the data set reaches a steady size
// early in a soak, and a heap that keeps growing means a leak, not more
// data for Badger's caches to hold.
func (t *fvTarget) soakWriteOp(rows, versions int) loadgen.Op {
	return loadgen.Op{Name: fmt.Sprintf("write-%dx%d", rows, benchdata.Fields), Do: func(ctx context.Context, w *loadgen.Worker) (int64, error) {
		req := &fvv1.WriteFeaturesRequest{View: benchdata.View, Rows: make([]*fvv1.Row, rows)}
		for i := range rows {
			at := seedTime.Add(time.Duration(1+w.Rand.IntN(versions)) * time.Hour)
			req.Rows[i] = protoRow(w.Rand.IntN(t.entities), at)
		}
		res, err := t.feature.WriteFeatures(ctx, connect.NewRequest(req))
		if err != nil {
			return 0, err
		}
		if got, want := res.Msg.ValuesWritten, int64(rows*benchdata.Fields); got != want {
			return 0, fmt.Errorf("wrote %d values, want %d", got, want)
		}
		return res.Msg.ValuesWritten, nil
	}}
}

// soakEpsilon is what one aggregate of the soak spends.
const soakEpsilon = 0.01

// aggregateOp asks for a differentially private count of the first field
// of the benchmark view, spending soakEpsilon of the principal's budget:
// a scan of the whole column, decrypted, then noised.
func (t *fvTarget) aggregateOp() loadgen.Op {
	return loadgen.Op{Name: "aggregate-count", Do: func(ctx context.Context, _ *loadgen.Worker) (int64, error) {
		res, err := t.feature.Aggregate(ctx, connect.NewRequest(&fvv1.AggregateRequest{
			View: benchdata.View, Field: benchdata.FieldName(0),
			Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, Epsilon: soakEpsilon,
		}))
		if err != nil {
			return 0, err
		}
		if res.Msg.EpsilonSpent != soakEpsilon || res.Msg.Mechanism == "" {
			return 0, fmt.Errorf("aggregate spent epsilon %g with mechanism %q, want %g and a named mechanism", res.Msg.EpsilonSpent, res.Msg.Mechanism, soakEpsilon)
		}
		return int64(t.entities), nil
	}}
}

// refusal is a request the server must refuse in a known way. check sends
// it and returns nil when the server refused as expected, and an error
// saying what it did instead otherwise.
type refusal struct {
	name  string
	want  connect.Code // the expected code; 0 when check judges a response instead
	check func(ctx context.Context, w *loadgen.Worker) error
	count atomic.Uint64 // refusals as expected
}

// RefusalCount is how many times the soak saw one kind of refusal.
type RefusalCount struct {
	Op    string `json:"op"`
	Case  string `json:"case"`
	Code  string `json:"code"`
	Count uint64 `json:"count"`
}

// wantCode turns the outcome of a call that must fail with code want into
// nil (it did) or an error saying what happened instead.
func wantCode(err error, want connect.Code) error {
	switch {
	case err == nil:
		return fmt.Errorf("the server accepted it, want %s", want)
	case connect.CodeOf(err) != want:
		return fmt.Errorf("got %s (%v), want %s", connect.CodeOf(err), err, want)
	}
	return nil
}

// refusalOp picks one of cases at random per operation. A case refused as
// expected counts as a successful operation (and in the case's count); a
// request that succeeded or failed any other way is an error of the op.
func refusalOp(name string, cases []*refusal) loadgen.Op {
	return loadgen.Op{Name: name, Do: func(ctx context.Context, w *loadgen.Worker) (int64, error) {
		c := cases[w.Rand.IntN(len(cases))]
		if err := c.check(ctx, w); err != nil {
			return 0, fmt.Errorf("%s: %w", c.name, err)
		}
		c.count.Add(1)
		return 0, nil
	}}
}

// soakPrincipals are the clients of a soak's refusals: the load's own
// principal (allowed to read, write and aggregate the benchmark view for
// purpose inference, nothing else), one that holds no grant at all, and
// a caller with a made-up token.
type soakPrincipals struct {
	allowed, denied, strictDenied, forged *fvTarget
	allowedAdmin                          featurevaultv1connect.AdminServiceClient
}

func newSoakPrincipals(url, allowedToken, deniedToken string, entities int, hc *http.Client) *soakPrincipals {
	p := &soakPrincipals{
		allowed: newFVTarget(targetFV, url, allowedToken, benchPurpose, entities, hc),
		denied:  newFVTarget(targetFV, url, deniedToken, benchPurpose, entities, hc),
		forged:  newFVTarget(targetFV, url, "fvsoak-forged-token-0000000000000000", benchPurpose, entities, hc),
	}
	p.strictDenied = &fvTarget{name: targetFV, url: url, token: deniedToken, purpose: benchPurpose, entities: entities,
		feature: featurevaultv1connect.NewFeatureServiceClient(hc, url, connect.WithInterceptors(client.HeaderInterceptor(client.Headers(deniedToken, benchPurpose, true))))}
	p.allowedAdmin = featurevaultv1connect.NewAdminServiceClient(hc, url, withHeaders(allowedToken, benchPurpose))
	return p
}

// deniedCases are requests of callers without the right: each must be
// refused, and a read must release no value.
func (p *soakPrincipals) deniedCases() []*refusal {
	read := func(ctx context.Context, t *fvTarget, w *loadgen.Worker) (*connect.Response[fvv1.GetOnlineFeaturesResponse], error) {
		keys, _ := randomKeys(w, t.entities, 1)
		return t.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: benchdata.View, EntityKeys: keys}))
	}
	return []*refusal{
		{name: "read without a grant", check: func(ctx context.Context, w *loadgen.Worker) error {
			res, err := read(ctx, p.denied, w)
			if err != nil {
				return fmt.Errorf("got %s (%v), want an answer with every field DENIED", connect.CodeOf(err), err)
			}
			for _, r := range res.Msg.Rows {
				for f, s := range r.Statuses {
					if s != fvv1.FieldStatus_FIELD_STATUS_DENIED || (f < len(r.Values) && r.Values[f].GetKind() != nil) {
						return fmt.Errorf("field %d is %s with a value set %v, want DENIED and no value", f, s, f < len(r.Values) && r.Values[f].GetKind() != nil)
					}
				}
			}
			return nil
		}},
		{name: "strict read without a grant", want: connect.CodePermissionDenied, check: func(ctx context.Context, w *loadgen.Worker) error {
			_, err := read(ctx, p.strictDenied, w)
			return wantCode(err, connect.CodePermissionDenied)
		}},
		{name: "write without a grant", want: connect.CodePermissionDenied, check: func(ctx context.Context, w *loadgen.Worker) error {
			_, err := p.denied.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: benchdata.View, Rows: []*fvv1.Row{p.poisonRow(w)}}))
			return wantCode(err, connect.CodePermissionDenied)
		}},
		{name: "admin call by the inference principal", want: connect.CodePermissionDenied, check: func(ctx context.Context, _ *loadgen.Worker) error {
			_, err := p.allowedAdmin.ListPrincipals(ctx, connect.NewRequest(&fvv1.ListPrincipalsRequest{}))
			return wantCode(err, connect.CodePermissionDenied)
		}},
		{name: "forged token", want: connect.CodeUnauthenticated, check: func(ctx context.Context, w *loadgen.Worker) error {
			_, err := read(ctx, p.forged, w)
			return wantCode(err, connect.CodeUnauthenticated)
		}},
	}
}

// badCases are malformed requests of an allowed caller: each must be
// refused as invalid (or not found) and change nothing.
func (p *soakPrincipals) badCases() []*refusal {
	fs := p.allowed.feature
	return []*refusal{
		{name: "read of an unknown view", want: connect.CodeNotFound, check: func(ctx context.Context, _ *loadgen.Worker) error {
			_, err := fs.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "no_such_view", EntityKeys: []string{benchdata.Key(0)}}))
			return wantCode(err, connect.CodeNotFound)
		}},
		{name: "read of no entity", want: connect.CodeInvalidArgument, check: func(ctx context.Context, _ *loadgen.Worker) error {
			_, err := fs.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: benchdata.View}))
			return wantCode(err, connect.CodeInvalidArgument)
		}},
		{name: "write of a string into a float64 field", want: connect.CodeInvalidArgument, check: func(ctx context.Context, w *loadgen.Worker) error {
			row := p.poisonRow(w)
			row.Values[benchdata.FieldName(0)] = &fvv1.Value{Kind: &fvv1.Value_StringValue{StringValue: "not a number"}}
			_, err := fs.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: benchdata.View, Rows: []*fvv1.Row{p.poisonRow(w), row}}))
			return wantCode(err, connect.CodeInvalidArgument)
		}},
		{name: "write of a field the view lacks", want: connect.CodeNotFound, check: func(ctx context.Context, w *loadgen.Worker) error {
			row := p.poisonRow(w)
			row.Values["no_such_field"] = &fvv1.Value{Kind: &fvv1.Value_Float64Value{Float64Value: 1}}
			_, err := fs.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: benchdata.View, Rows: []*fvv1.Row{p.poisonRow(w), row}}))
			return wantCode(err, connect.CodeNotFound)
		}},
		{name: "aggregate with a negative epsilon", want: connect.CodeInvalidArgument, check: func(ctx context.Context, _ *loadgen.Worker) error {
			_, err := fs.Aggregate(ctx, connect.NewRequest(&fvv1.AggregateRequest{View: benchdata.View, Field: benchdata.FieldName(0),
				Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, Epsilon: -1}))
			return wantCode(err, connect.CodeInvalidArgument)
		}},
		{name: "write with an event time out of range", want: connect.CodeInvalidArgument, check: func(ctx context.Context, w *loadgen.Worker) error {
			row := p.poisonRow(w)
			row.EventTime = &timestamppb.Timestamp{Seconds: -1 << 62}
			_, err := fs.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: benchdata.View, Rows: []*fvv1.Row{p.poisonRow(w), row}}))
			return wantCode(err, connect.CodeInvalidArgument)
		}},
	}
}

// poisonRow is a row of a random entity, later than any the soak writes,
// whose every value differs from the seeded one. The malformed writes send
// it next to the malformed row: a write must be refused as a whole, and
// if any part of one were stored, the online reads, which check values
// against the seed, would fail.
func (p *soakPrincipals) poisonRow(w *loadgen.Worker) *fvv1.Row {
	row := protoRow(w.Rand.IntN(p.allowed.entities), seedTime.Add(1000*time.Hour))
	for _, v := range row.Values {
		v.Kind = &fvv1.Value_Float64Value{Float64Value: -1}
	}
	return row
}

// refusalCounts lists how many times each case was refused as expected.
func refusalCounts(op string, cases []*refusal) []RefusalCount {
	out := make([]RefusalCount, 0, len(cases))
	for _, c := range cases {
		code := "answer with every field DENIED"
		if c.want != 0 {
			code = c.want.String()
		}
		out = append(out, RefusalCount{Op: op, Case: c.name, Code: code, Count: c.count.Load()})
	}
	return out
}
