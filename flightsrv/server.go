package flightsrv

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// Prefix is the HTTP path prefix of the Flight service's methods: mount
// the Server there on the FeatureVault port (rpc.Server.Mount).
const Prefix = "/arrow.flight.protocol.FlightService/"

// forwarded are the call headers (gRPC metadata, lower-case) passed to
// the FeatureService handlers: the bearer token, the purpose and strict
// mode. Nothing else a client sends reaches them.
var forwarded = []string{"authorization", "featurevault-purpose", "featurevault-strict"}

// Server is the Arrow Flight service. It holds no data and makes no
// decision of its own: each call becomes a call of the FeatureVault
// server's FeatureService in process (ReadBatches, GetHistoricalFeatures,
// IngestArrow) with the caller's headers, so authentication, the rate
// limit, the stream limits, the purpose check, the column policy, strict
// mode and the audit log are the ones of the Connect API, by
// construction. Audit records name the Flight method (for example
// /arrow.flight.protocol.FlightService/DoGet).
type Server struct {
	flight.BaseFlightServer
	rpc  *rpc.Server
	fs   featurevaultv1connect.FeatureServiceClient
	grpc *grpc.Server
	log  *slog.Logger
	cfg  config
}

type config struct {
	logger        *slog.Logger
	maxBatchBytes int64
	maxLabelBytes int64
}

// Option configures a Server.
type Option func(*config)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxBatchBytes is the largest record batch a client may send (DoPut,
// DoExchange), the value of the server's --max-ingest-batch-bytes
// (default rpc.DefaultMaxIngestBatchBytes). A Flight message a little
// larger (by up to 1 MiB of metadata) still reaches the FeatureService,
// which refuses the batch with its own ResourceExhausted error naming
// the flag; a much larger one is refused by gRPC before it is read.
func WithMaxBatchBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBatchBytes = n
		}
	}
}

// WithMaxLabelBytes bounds the label table of one DoExchange join, which
// the server holds (as Arrow IPC) while it answers (default
// DefaultMaxLabelBytes).
func WithMaxLabelBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxLabelBytes = n
		}
	}
}

// DefaultMaxLabelBytes is the default bound on a join's label table:
// some three million (key, timestamp) rows.
const DefaultMaxLabelBytes = 64 << 20

// New returns the Flight service of s. Serve it on the FeatureVault
// port with s.Mount(Prefix, flightServer) — one port, one TLS
// configuration and one shutdown for both protocols; Flight clients
// dial the same address (grpc://host:port, or grpc+tls:// with TLS).
// gRPC over net/http (grpc.Server.ServeHTTP) is slower per message than
// gRPC's own transport, but a Flight message carries a whole record
// batch, so the difference is small next to decryption (BENCHMARKS.md).
func New(s *rpc.Server, opts ...Option) *Server {
	cfg := config{logger: slog.Default(), maxBatchBytes: rpc.DefaultMaxIngestBatchBytes, maxLabelBytes: DefaultMaxLabelBytes}
	for _, o := range opts {
		o(&cfg)
	}
	hc := &http.Client{Transport: inProcess{h: s.Handler()}}
	fsrv := &Server{
		rpc:  s,
		fs:   featurevaultv1connect.NewFeatureServiceClient(hc, "http://in-process"),
		log:  cfg.logger,
		cfg:  cfg,
		grpc: grpc.NewServer(grpc.MaxRecvMsgSize(int(min(cfg.maxBatchBytes+1<<20, 1<<31-1)))),
	}
	flight.RegisterFlightServiceServer(fsrv.grpc, fsrv)
	return fsrv
}

// ServeHTTP serves Flight calls (HTTP/2 only, as gRPC is).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.grpc.ServeHTTP(w, r) }

// GRPC returns the gRPC server, to serve Flight on a listener of its own
// (grpc.Server.Serve) rather than through ServeHTTP.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// call prepares an in-process call for a Flight method: a context naming
// the method for the audit log, and the caller's forwarded headers.
func (s *Server) call(ctx context.Context, method string) (context.Context, http.Header) {
	h := make(http.Header)
	md, _ := metadata.FromIncomingContext(ctx)
	for _, k := range forwarded {
		for _, v := range md.Get(k) {
			h.Add(k, v)
		}
	}
	return rpc.WithGatewayProcedure(ctx, Prefix+method), h
}

// toStatus maps an error of an in-process call to a gRPC status with the
// same code and message: Connect codes are gRPC's.
func (s *Server) toStatus(method string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return status.Error(codes.Code(ce.Code()), ce.Message()) // #nosec G115 -- Connect codes are 1..16
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the call was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the call's deadline passed")
	}
	s.log.Error("flight call failed", "method", method, "error", err)
	return status.Error(codes.Internal, "internal error; the server log has the details")
}
