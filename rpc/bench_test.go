package rpc_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// syncViews tells the policy about views loaded straight into the store.
func syncViews(b *testing.B, s *server) {
	for _, v := range s.store.Views() {
		if err := s.backend.Policy.SyncView(v.Name, policy.FieldRefs(&v)); err != nil {
			b.Fatal(err)
		}
	}
}

const benchEntities = 10_000

// BenchmarkOnlineOverConnect reads 1 and 100 entities × 50 fields from a
// real server on loopback (Connect protocol, binary protobuf, HTTP/1.1
// keep-alive), and, in the same run, the same request from a do-nothing
// Connect server that answers with the same response bytes — the cost of
// the transport alone, against which the store's share is read.
func BenchmarkOnlineOverConnect(b *testing.B) {
	s := startServer(b, b.TempDir(), rpc.WithRateLimit(0, 0))
	if err := benchdata.Load(s.store, benchEntities); err != nil {
		b.Fatal(err)
	}
	syncViews(b, s)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	realClient := featurevaultv1connect.NewFeatureServiceClient(client, s.url, s.as(s.token, "analytics"))
	for _, n := range []int{1, 100} {
		req := &fvv1.GetOnlineFeaturesRequest{View: benchdata.View, EntityKeys: benchdata.Keys(0, n)}
		canned, err := realClient.GetOnlineFeatures(context.Background(), connect.NewRequest(req))
		if err != nil {
			b.Fatal(err)
		}
		_, noopHandler := featurevaultv1connect.NewFeatureServiceHandler(&noop{resp: canned.Msg}, connect.WithCompressMinBytes(rpc.CompressMinBytes), rpc.WithCodec())
		noopURL := serveHandler(b, noopHandler)
		noopClient := featurevaultv1connect.NewFeatureServiceClient(client, noopURL, s.as(s.token, "analytics"))
		for _, target := range []struct {
			name   string
			client featurevaultv1connect.FeatureServiceClient
		}{{"featurevault", realClient}, {"noop-same-bytes", noopClient}} {
			b.Run(fmt.Sprintf("entities=%d/fields=50/%s", n, target.name), func(b *testing.B) {
				ctx := context.Background()
				var lat benchdata.Latencies
				i := 0
				for b.Loop() {
					r := &fvv1.GetOnlineFeaturesRequest{View: benchdata.View, EntityKeys: benchdata.Keys((i*n)%(benchEntities-n), n)}
					lat.Time(func() {
						if _, err := target.client.GetOnlineFeatures(ctx, connect.NewRequest(r)); err != nil {
							b.Fatal(err)
						}
					})
					i++
				}
				lat.Report(b)
				b.ReportMetric(float64(proto.Size(canned.Msg)), "resp-bytes")
			})
		}
	}
}

// noop answers every read with the same prepared response.
type noop struct {
	featurevaultv1connect.UnimplementedFeatureServiceHandler
	resp *fvv1.GetOnlineFeaturesResponse
}

func (n *noop) GetOnlineFeatures(context.Context, *connect.Request[fvv1.GetOnlineFeaturesRequest]) (*connect.Response[fvv1.GetOnlineFeaturesResponse], error) {
	return connect.NewResponse(n.resp), nil
}

// serveHandler serves h on a loopback port until the benchmark ends.
func serveHandler(b *testing.B, h http.Handler) string {
	b.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// BenchmarkPolicyOverhead measures, in process and in the same run, a 1 ×
// 50 online read from the store alone and with the policy decision the
// server makes before it (cached, as on every request after the first), so
// the policy's share of a read is read off directly.
func BenchmarkPolicyOverhead(b *testing.B) {
	s := startServer(b, b.TempDir())
	if err := benchdata.Load(s.store, benchEntities); err != nil {
		b.Fatal(err)
	}
	syncViews(b, s)
	admin, err := s.backend.Policy.Principal("admin")
	if err != nil {
		b.Fatal(err)
	}
	v, err := s.store.View(benchdata.View)
	if err != nil {
		b.Fatal(err)
	}
	refs := policy.FieldRefs(&v)
	ctx := context.Background()
	read := func(i int) {
		if _, err := s.store.GetOnline(ctx, benchdata.View, benchdata.Keys(i%benchEntities, 1), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("store-only", func(b *testing.B) {
		var lat benchdata.Latencies
		i := 0
		for b.Loop() {
			lat.Time(func() { read(i) })
			i++
		}
		lat.Report(b)
	})
	b.Run("store+policy", func(b *testing.B) {
		var lat benchdata.Latencies
		i := 0
		for b.Loop() {
			lat.Time(func() {
				d, err := s.backend.Policy.Decide(admin, benchdata.View, refs, policy.ActionRead, "analytics", rpc.DefaultEnv)
				if err != nil || !d.AllAllowed() {
					b.Fatalf("decide: %v", err)
				}
				read(i)
			})
			i++
		}
		lat.Report(b)
	})
}
