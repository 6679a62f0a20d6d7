package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/featurevault/featurevault/internal/benchdata"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// noopHandler is a do-nothing FeatureService: it answers every online read
// with a response prepared in advance for that number of entities, taken
// from the real server, so that it sends the very same bytes without
// authenticating, deciding, reading, decrypting or auditing anything. The
// difference between it and FeatureVault is the cost of FeatureVault's
// work; the noop itself is the cost of Connect, HTTP and the kernel.
type noopHandler struct {
	featurevaultv1connect.UnimplementedFeatureServiceHandler
	canned map[int]*fvv1.GetOnlineFeaturesResponse // by entity count
}

func (n *noopHandler) GetOnlineFeatures(_ context.Context, req *connect.Request[fvv1.GetOnlineFeaturesRequest]) (*connect.Response[fvv1.GetOnlineFeaturesResponse], error) {
	res, ok := n.canned[len(req.Msg.EntityKeys)]
	if !ok {
		return nil, connect.NewError(connect.CodeUnimplemented, fmt.Errorf("noop: no canned answer for %d entities", len(req.Msg.EntityKeys)))
	}
	return connect.NewResponse(res), nil
}

// cannedResponses fetches, from the real server, the answer to an online
// read of entities 0..n-1 for each n.
func cannedResponses(ctx context.Context, fv *fvTarget, counts ...int) (map[int]*fvv1.GetOnlineFeaturesResponse, error) {
	out := map[int]*fvv1.GetOnlineFeaturesResponse{}
	for _, n := range counts {
		res, err := fv.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: benchdata.View, EntityKeys: benchdata.Keys(0, n)}))
		if err != nil {
			return nil, fmt.Errorf("fetch the %d-entity answer the noop server repeats: %w", n, err)
		}
		out[n] = res.Msg
	}
	return out, nil
}

// cannedSizes returns the size in bytes of each canned response.
func cannedSizes(c map[int]*fvv1.GetOnlineFeaturesResponse) map[string]int {
	out := map[string]int{}
	for n, m := range c {
		out[onlineName(n)] = proto.Size(m)
	}
	return out
}

// serveNoop serves the noop handler on ln with the HTTP settings of the
// real server (HTTP/1.1 and cleartext HTTP/2, the same compression
// threshold and codec) until ctx is done.
func serveNoop(ctx context.Context, ln net.Listener, canned map[int]*fvv1.GetOnlineFeaturesResponse) error {
	mux := http.NewServeMux()
	mux.Handle(featurevaultv1connect.NewFeatureServiceHandler(&noopHandler{canned: canned}, connect.WithCompressMinBytes(rpc.CompressMinBytes), rpc.WithCodec()))
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, Protocols: &protocols}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	<-errc
	return nil
}
