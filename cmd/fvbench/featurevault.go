package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/internal/loadgen"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// seedTime is the event time of every seeded row (benchdata.Load's).
var seedTime = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// fvTarget is a FeatureVault server (or the noop server, which answers the
// same online reads) seen through its Connect API.
type fvTarget struct {
	name     string
	url      string
	token    string
	purpose  string
	feature  featurevaultv1connect.FeatureServiceClient
	entities int
	// canned is set for the noop server, which answers every read of n
	// entities with entities 0..n-1: reads are checked against those.
	canned bool
}

// newHTTPClient returns an HTTP/1.1 keep-alive client with room for one
// idle connection per load client, as a real inference fleet would hold.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     2 * time.Minute,
	}}
}

func newFVTarget(name, url, token, purpose string, entities int, hc *http.Client, opts ...connect.ClientOption) *fvTarget {
	return &fvTarget{
		name:     name,
		url:      url,
		token:    token,
		purpose:  purpose,
		feature:  featurevaultv1connect.NewFeatureServiceClient(hc, url, append([]connect.ClientOption{withHeaders(token, purpose)}, opts...)...),
		entities: entities,
	}
}

// withHeaders sends the bearer token and the purpose with every call.
func withHeaders(token, purpose string) connect.ClientOption {
	return connect.WithInterceptors(client.HeaderInterceptor(client.Headers(token, purpose, false)))
}

// randomKeys picks n entity indexes uniformly (with replacement).
func randomKeys(w *loadgen.Worker, entities, n int) ([]string, []int) {
	keys, idx := make([]string, n), make([]int, n)
	for i := range n {
		idx[i] = w.Rand.IntN(entities)
		keys[i] = benchdata.Key(idx[i])
	}
	return keys, idx
}

// onlineOp reads n random entities × every field of the benchmark view,
// the request an inference service sends, and checks every answer: a
// wrong or missing value counts as an error, not as a fast read.
func (t *fvTarget) onlineOp(n int) loadgen.Op {
	return loadgen.Op{Name: onlineName(n), Do: func(ctx context.Context, w *loadgen.Worker) (int64, error) {
		keys, idx := randomKeys(w, t.entities, n)
		res, err := t.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: benchdata.View, EntityKeys: keys}))
		if err != nil {
			return 0, err
		}
		if t.canned {
			for i := range idx {
				idx[i] = i
			}
		}
		return int64(n * benchdata.Fields), checkOnline(res.Msg, idx)
	}}
}

func onlineName(n int) string { return fmt.Sprintf("online-%dx%d", n, benchdata.Fields) }

// checkOnline checks that every row answers its entity with every value
// present and equal to what the seed (and the write operation) stored.
func checkOnline(m *fvv1.GetOnlineFeaturesResponse, idx []int) error {
	if len(m.Rows) != len(idx) {
		return fmt.Errorf("answer has %d rows for %d entities", len(m.Rows), len(idx))
	}
	for i, r := range m.Rows {
		if len(r.Values) != benchdata.Fields || len(r.Statuses) != benchdata.Fields {
			return fmt.Errorf("row %d has %d values, want %d", i, len(r.Values), benchdata.Fields)
		}
		for _, f := range []int{0, benchdata.Fields - 1} {
			if r.Statuses[f] != fvv1.FieldStatus_FIELD_STATUS_PRESENT {
				return fmt.Errorf("row %d field %d is %s, want PRESENT: is the dataset seeded?", i, f, r.Statuses[f])
			}
			if got, want := r.Values[f].GetFloat64Value(), seedValue(idx[i], f); got != want {
				return fmt.Errorf("row %d field %d holds a wrong value", i, f)
			}
		}
	}
	return nil
}

func seedValue(entity, field int) float64 { return float64(entity) + float64(field)/100 }

// protoRow is the benchmark row of entity i at time at, as WriteFeatures
// takes it: the same values benchdata.Row has.
func protoRow(i int, at time.Time) *fvv1.Row {
	vals := make(map[string]*fvv1.Value, benchdata.Fields)
	for f := range benchdata.Fields {
		vals[benchdata.FieldName(f)] = &fvv1.Value{Kind: &fvv1.Value_Float64Value{Float64Value: seedValue(i, f)}}
	}
	return &fvv1.Row{EntityKey: benchdata.Key(i), EventTime: timestamppb.New(at), Values: vals}
}

// writeOp writes rows rows of random entities at the current time: a
// streaming push of fresh features. The values are the seeded ones, so
// reads stay checkable while history grows.
func (t *fvTarget) writeOp(rows int) loadgen.Op {
	return loadgen.Op{Name: fmt.Sprintf("write-%dx%d", rows, benchdata.Fields), Do: func(ctx context.Context, w *loadgen.Worker) (int64, error) {
		at := time.Now()
		req := &fvv1.WriteFeaturesRequest{View: benchdata.View, Rows: make([]*fvv1.Row, rows)}
		for i := range rows {
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

// batchOp reads the view with ReadBatches (Arrow IPC), stopping after
// maxRows rows (0: the whole view). A batch read cut short cancels its
// stream, which on HTTP/1.1 costs the connection.
func (t *fvTarget) batchOp(maxRows, batchRows int) loadgen.Op {
	name := "batch-all"
	if maxRows > 0 {
		name = fmt.Sprintf("batch-%drows", maxRows)
	}
	return loadgen.Op{Name: name, Do: func(ctx context.Context, _ *loadgen.Worker) (int64, error) {
		rows, _, err := t.readBatches(ctx, maxRows, batchRows)
		return rows * benchdata.Fields, err
	}}
}

// readBatches streams the view and returns the rows and Arrow bytes read.
func (t *fvTarget) readBatches(ctx context.Context, maxRows, batchRows int) (rows, bytes int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := t.feature.ReadBatches(ctx, connect.NewRequest(&fvv1.ReadBatchesRequest{View: benchdata.View, BatchRows: int32(batchRows)})) // #nosec G115 -- batchRows is a small positive flag value
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	for s.Receive() {
		rows += s.Msg().Rows
		bytes += int64(len(s.Msg().ArrowIpc))
		if maxRows > 0 && rows >= int64(maxRows) {
			return rows, bytes, nil
		}
	}
	if err := s.Err(); err != nil {
		return rows, bytes, err
	}
	if maxRows == 0 && rows < int64(t.entities) {
		return rows, bytes, fmt.Errorf("the view streamed %d rows, want at least %d (one per seeded entity)", rows, t.entities)
	}
	return rows, bytes, nil
}

// seedFV writes entities rows × 50 fields through WriteFeatures in
// batches of batch rows on workers concurrent calls, unless the last
// entity already reads back as seeded. It applies the benchmark entity
// and view first (with admin). It returns the values written (0 when the
// data was already there) and how long writing took.
func seedFV(ctx context.Context, admin featurevaultv1connect.AdminServiceClient, t *fvTarget, batch, workers int) (int64, time.Duration, error) {
	if err := applyBenchView(ctx, admin); err != nil {
		return 0, 0, err
	}
	if seeded(ctx, t) {
		return 0, 0, nil
	}
	start := time.Now()
	next := make(chan int)
	errc := make(chan error, workers)
	for range workers {
		go func() {
			for lo := range next {
				hi := min(lo+batch, t.entities)
				req := &fvv1.WriteFeaturesRequest{View: benchdata.View, Rows: make([]*fvv1.Row, 0, hi-lo)}
				for i := lo; i < hi; i++ {
					req.Rows = append(req.Rows, protoRow(i, seedTime))
				}
				if _, err := t.feature.WriteFeatures(ctx, connect.NewRequest(req)); err != nil {
					errc <- fmt.Errorf("seed rows %d..%d: %w", lo, hi-1, err)
					for range next { // drain
					}
					return
				}
			}
			errc <- nil
		}()
	}
	for lo := 0; lo < t.entities; lo += batch {
		select {
		case next <- lo:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	var errs []error
	for range workers {
		errs = append(errs, <-errc)
	}
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return 0, 0, err
	}
	if !seeded(ctx, t) {
		return 0, 0, errors.New("seeding finished but the last entity does not read back; see the server log")
	}
	return int64(t.entities) * benchdata.Fields, time.Since(start), nil
}

// seeded reports whether the first and last entities read back with their
// seeded values.
func seeded(ctx context.Context, t *fvTarget) bool {
	idx := []int{0, t.entities - 1}
	res, err := t.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{
		View: benchdata.View, EntityKeys: []string{benchdata.Key(idx[0]), benchdata.Key(idx[1])},
	}))
	return err == nil && checkOnline(res.Msg, idx) == nil
}

// applyBenchView creates (or confirms) the benchmark entity and view.
func applyBenchView(ctx context.Context, admin featurevaultv1connect.AdminServiceClient) error {
	if _, err := admin.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{
		Name: "user", JoinKey: "user_id", KeyType: fvv1.KeyType_KEY_TYPE_STRING,
	}})); err != nil {
		return fmt.Errorf("apply the benchmark entity: %w", err)
	}
	v := &fvv1.FeatureView{Name: benchdata.View, Entity: "user", Description: "fvbench: 50 float64 features"}
	for f := range benchdata.Fields {
		v.Fields = append(v.Fields, &fvv1.Field{Name: benchdata.FieldName(f), Type: fvv1.FieldType_FIELD_TYPE_FLOAT64})
	}
	if _, err := admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: v})); err != nil {
		return fmt.Errorf("apply the benchmark view: %w", err)
	}
	return nil
}

// Names of what the load generator creates for its own principals.
const (
	benchRole    = "fvbench_inference"
	benchPurpose = "inference"
)

// benchToken creates a non-admin principal that may read and write the
// benchmark view for purpose inference only — what an inference service
// holds — and returns its opaque bearer token. Each run creates a principal
// of its own (named after the time), because only creation returns an
// opaque token: a later IssueToken returns a JWT, whose signature check
// costs every request more and would change what is measured.
func benchToken(ctx context.Context, admin featurevaultv1connect.AdminServiceClient) (string, string, error) {
	for _, a := range []fvv1.Action{fvv1.Action_ACTION_READ, fvv1.Action_ACTION_WRITE} {
		rule := &fvv1.Rule{Role: benchRole, Action: a, Object: benchdata.View + ".*", Purpose: benchPurpose}
		if _, err := admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule})); err != nil {
			return "", "", fmt.Errorf("grant %s on %s.* to role %s: %w", a, benchdata.View, benchRole, err)
		}
	}
	name := "fvbench_" + strings.ReplaceAll(time.Now().UTC().Format("20060102_150405.000000"), ".", "_")
	res, err := admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{
		Name: name, Roles: []string{benchRole},
		Attributes: map[string]*fvv1.StringList{"purpose": {Values: []string{benchPurpose}}},
	}))
	if err != nil {
		return "", "", fmt.Errorf("create principal %s: %w", name, err)
	}
	return name, res.Msg.Token, nil
}
