package rpc

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/store"
)

var arrowTestLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// arrowSpec declares a view of every type and a second view of the same
// entity for joins.
const arrowSpec = `
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: active,    type: bool}
      - {name: age,       type: int64}
      - {name: income,    type: float64, tags: [pii]}
      - {name: email,     type: string,  tags: [pii]}
      - {name: avatar,    type: bytes}
      - {name: signup,    type: timestamp}
      - {name: embedding, type: "list<float32>"}
  - name: txn
    entity: customer
    ttl: 1h
    fields:
      - {name: amount, type: float64}
      - {name: age,    type: int64}
`

// denyFields is a stand-in policy that denies the named fields of every
// view and allows the rest.
func denyFields(names ...string) func(context.Context, http.Header, string, string, []string) ([]string, []string, error) {
	return func(_ context.Context, _ http.Header, _, _ string, requested []string) (allowed, denied []string, err error) {
		for _, f := range requested {
			if slices.Contains(names, f) {
				denied = append(denied, f)
			} else {
				allowed = append(allowed, f)
			}
		}
		return allowed, denied, nil
	}
}

// arrowEnv is an arrowHandler over a fresh store, served on loopback.
type arrowEnv struct {
	store  *store.Store
	url    string
	raw    featurevaultv1connect.FeatureServiceClient
	client *client.Client
	mem    *memory.CheckedAllocator

	mu       sync.Mutex
	accesses []access
}

// newArrowEnv starts the Arrow calls over a store with arrowSpec applied,
// with policy stood in by columns (nil allows every column) and audit
// recorded in env.accesses. The client's Arrow memory is checked for leaks
// when the test ends.
func newArrowEnv(t testing.TB, columns func(context.Context, http.Header, string, string, []string) ([]string, []string, error)) *arrowEnv {
	t.Helper()
	return newArrowEnvWith(t, false, arrowSpec, columns)
}

// newArrowEnvWith is newArrowEnv with a choice of durable (synced) writes
// and of the spec applied.
func newArrowEnvWith(t testing.TB, syncWrites bool, specYAML string, columns func(context.Context, http.Header, string, string, []string) ([]string, []string, error)) *arrowEnv {
	t.Helper()
	st, err := store.Open(t.Context(), store.DefaultOptions(t.TempDir()).WithLogger(arrowTestLog).WithSyncWrites(syncWrites))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := store.ParseSpec([]byte(specYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ApplySpec(spec); err != nil {
		t.Fatal(err)
	}
	if columns == nil {
		columns = denyFields()
	}
	env := &arrowEnv{store: st, mem: memory.NewCheckedAllocator(memory.NewGoAllocator())}
	h := &arrowHandler{store: st, log: arrowTestLog, columns: columns, maxBatchBytes: DefaultMaxIngestBatchBytes, record: func(_ context.Context, _ http.Header, a access) error {
		env.mu.Lock()
		env.accesses = append(env.accesses, a)
		env.mu.Unlock()
		return a.Err
	}}
	mux := http.NewServeMux()
	mux.Handle(featurevaultv1connect.NewFeatureServiceHandler(arrowService{h: h}, connect.WithReadMaxBytes(DefaultMaxRequestBytes)))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		st.Close()
		env.mem.AssertSize(t, 0)
	})
	env.url = srv.URL
	env.raw = featurevaultv1connect.NewFeatureServiceClient(srv.Client(), srv.URL)
	env.client = client.New(srv.Client(), srv.URL, client.WithAllocator(env.mem))
	return env
}

func (e *arrowEnv) lastAccess(t testing.TB) access {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.accesses) == 0 {
		t.Fatal("no access was recorded")
	}
	return e.accesses[len(e.accesses)-1]
}

// arrowService serves only the Arrow calls of FeatureService.
type arrowService struct {
	featurevaultv1connect.UnimplementedFeatureServiceHandler
	h *arrowHandler
}

func (s arrowService) ReadBatches(ctx context.Context, req *connect.Request[fvv1.ReadBatchesRequest], stream *connect.ServerStream[fvv1.ReadBatchesResponse]) error {
	return s.h.ReadBatches(ctx, req, stream)
}

func (s arrowService) GetHistoricalFeatures(ctx context.Context, req *connect.Request[fvv1.GetHistoricalFeaturesRequest], stream *connect.ServerStream[fvv1.GetHistoricalFeaturesResponse]) error {
	return s.h.GetHistoricalFeatures(ctx, req, stream)
}

func (s arrowService) IngestArrow(ctx context.Context, stream *connect.ClientStream[fvv1.IngestArrowRequest]) (*connect.Response[fvv1.IngestArrowResponse], error) {
	return s.h.IngestArrow(ctx, stream)
}
