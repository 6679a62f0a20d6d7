package rpc

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/internal/httpserve"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/telemetry"
)

// DefaultMaxRequestBytes is the default limit on one request message.
const DefaultMaxRequestBytes = 4 << 20

// CompressMinBytes is the smallest response compressed for clients that
// accept gzip: in effect, none is. Feature values are mostly incompressible
// numbers (and ciphertext-derived values do not compress at all), and the
// usual client is one network hop away: gzipping a 60 KB online answer
// doubled its latency, and gzipping Arrow frames (1.7 MB for 4 096 rows ×
// 50 float64) made exports 3.6× slower (BENCHMARKS.md, issue 7).
const CompressMinBytes = 1 << 30

// Server is the FeatureVault network server. Every call is authenticated,
// rate-limited per principal, decided column by column by the policy and
// recorded in the audit log.
type Server struct {
	backend *Backend
	cfg     config
	views   viewFields
	limiter *limiter
	streams *streamLimiter
	mounts  []mount // gateways on the same port (gateway.go)
}

type config struct {
	logger              *slog.Logger
	maxRequestBytes     int
	certFile            string
	keyFile             string
	allowPlaintext      bool
	env                 string
	rate                float64
	burst               int
	now                 func() time.Time
	maxIngestBatchBytes int64
	telemetry           *telemetry.T     // nil: none (WithTelemetry)
	edge                edgeConfig       // client CAs, CORS, stream limits (edge.go)
	oidc                *identity.OIDC   // nil: no OIDC issuer trusted (identity.go)
	checkpoints         checkpointConfig // signed audit checkpoints (checkpoint_handler.go)
	requestLimits       *RequestLimits   // nil: DefaultRequestLimits (requestlimits.go)
	online              OnlineTier       // nil: reads go to the store (online.go)
}

// Option configures a Server.
type Option func(*config)

// WithLogger sets the server's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxRequestBytes limits the size of one request message; larger ones
// are refused with ResourceExhausted (default DefaultMaxRequestBytes).
func WithMaxRequestBytes(n int) Option { return func(c *config) { c.maxRequestBytes = n } }

// WithMaxIngestBatchBytes bounds the body of one Arrow record batch a
// client sends (IngestArrow, GetHistoricalFeatures' entity rows); larger
// ones are refused with ResourceExhausted before they are read (default
// DefaultMaxIngestBatchBytes; zero or less keeps the default).
func WithMaxIngestBatchBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxIngestBatchBytes = n
		}
	}
}

// WithTLS serves TLS with the certificate and key in these PEM files.
func WithTLS(certFile, keyFile string) Option {
	return func(c *config) { c.certFile, c.keyFile = certFile, keyFile }
}

// WithAllowPlaintext permits cleartext HTTP on a non-loopback address.
// Only for deployments where something else (a mesh sidecar) encrypts.
func WithAllowPlaintext(b bool) Option { return func(c *config) { c.allowPlaintext = b } }

// WithEnv names the environment this server runs in (default "dev"). It is
// the environment of every request: rules can be limited to one, and a
// principal whose env attribute does not list it is refused.
func WithEnv(env string) Option { return func(c *config) { c.env = env } }

// WithRateLimit allows each principal perSecond requests per second on
// average, in bursts of up to burst (default 10 000/s, burst 20 000,
// enough for one online inference service; 0 turns the limit off). On a
// shared store the limit is the fleet's: each server allows its share.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(c *config) { c.rate, c.burst = perSecond, burst }
}

// DefaultEnv is the environment of a server not given WithEnv.
const DefaultEnv = "dev"

// NewServer returns a server for b.
func NewServer(b *Backend, opts ...Option) *Server {
	cfg := config{
		logger: slog.Default(), maxRequestBytes: DefaultMaxRequestBytes, maxIngestBatchBytes: DefaultMaxIngestBatchBytes,
		env: DefaultEnv, rate: 10_000, burst: 20_000, now: time.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{backend: b, cfg: cfg, limiter: newLimiter(cfg.rate, cfg.burst, cfg.now), streams: newStreamLimiter(cfg.edge)}
	if b.Checkpoints != nil && cfg.checkpoints.sink != "" {
		b.Checkpoints.SetSink(cfg.checkpoints.sink)
	}
	s.watchBackend(b)
	if b != nil {
		b.onReload(s.views.clear)
		if b.Cluster != nil {
			s.limiter.share = b.Cluster.Members
		}
	}
	return s
}

// Handler returns the HTTP handler serving both services and reflection,
// behind the server's edge: CORS, the request message limit and the
// stream limits (edge.go).
func (s *Server) Handler() http.Handler {
	hopts := []connect.HandlerOption{
		connect.WithReadMaxBytes(s.cfg.maxRequestBytes),
		connect.WithCompressMinBytes(CompressMinBytes),
		WithCodec(),
		connect.WithInterceptors(s.cfg.telemetry.Interceptors()...), // outermost: refused calls are measured too
		connect.WithInterceptors(clusterInterceptor{b: s.backend}),  // a shared store: lease check, key lock, invalidation (cluster.go)
		connect.WithInterceptors(&authInterceptor{policy: s.backend.Policy, limiter: s.limiter, oidc: s.cfg.oidc}, s.streams),
		connect.WithInterceptors(limitsInterceptor{s.cfg.limits()}),
	}
	mux := http.NewServeMux()
	mux.Handle(featurevaultv1connect.NewFeatureServiceHandler(&featureHandler{srv: s, store: s.backend.Store, log: s.cfg.logger}, hopts...))
	mux.Handle(featurevaultv1connect.NewAdminServiceHandler(&adminHandler{srv: s, store: s.backend.Store, log: s.cfg.logger}, hopts...))
	mux.Handle(featurevaultv1connect.NewIdentityServiceHandler(&identityHandler{&adminHandler{srv: s, store: s.backend.Store, log: s.cfg.logger}}, hopts...))
	mux.Handle(featurevaultv1connect.NewCheckpointServiceHandler(&checkpointHandler{&adminHandler{srv: s, store: s.backend.Store, log: s.cfg.logger}}, hopts...))
	reflector := grpcreflect.NewStaticReflector(featurevaultv1connect.FeatureServiceName, featurevaultv1connect.AdminServiceName,
		featurevaultv1connect.IdentityServiceName, featurevaultv1connect.CheckpointServiceName)
	mux.Handle(healthHandler(s.backend.sharedCheck))
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return s.edge(mux)
}

// ListenAndServe listens on addr and serves until ctx is done, then shuts
// down gracefully. It refuses plaintext on a non-loopback address unless
// WithAllowPlaintext or WithTLS is given.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if err := s.checkTransport(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("rpc: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then stops accepting, lets requests
// in flight finish (up to 10 s) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Protocols:         &protocols,
		ErrorLog:          slog.NewLogLogger(s.cfg.logger.Handler(), slog.LevelWarn),
	}
	if s.cfg.certFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.certFile, s.cfg.keyFile)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("rpc: load TLS certificate %s and key %s: %w", s.cfg.certFile, s.cfg.keyFile, err)
		}
		protocols.SetHTTP2(true)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.cfg.edge.applyClientCAs(srv.TLSConfig)
		ln = tls.NewListener(ln, srv.TLSConfig)
	} else {
		if s.cfg.edge.clientCAs != nil {
			_ = ln.Close()
			return errClientCAsWithoutTLS
		}
		protocols.SetUnencryptedHTTP2(true)
	}
	// Audit checkpoints are signed in the background until Serve returns.
	cctx, stopCheckpoints := context.WithCancel(ctx)
	var checkpoints sync.WaitGroup
	checkpoints.Go(func() { s.runCheckpoints(cctx) })
	defer func() { stopCheckpoints(); checkpoints.Wait() }()
	if err := httpserve.Run(ctx, srv, ln, 10*time.Second); err != nil {
		return fmt.Errorf("rpc: serve: %w", err)
	}
	return nil
}

// checkTransport refuses cleartext on an address other hosts can reach.
func (s *Server) checkTransport(addr string) error {
	return CheckListen(addr, s.cfg.certFile != "", s.cfg.allowPlaintext)
}

// CheckListen refuses to serve cleartext on addr when it is not a loopback
// address, unless TLS is on or plaintext was explicitly allowed: bearer
// tokens and feature values would otherwise cross the network in the clear.
func CheckListen(addr string, tls, allowPlaintext bool) error {
	if tls || allowPlaintext {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("rpc: listen address %q: %w; use host:port", addr, err)
	}
	if IsLoopback(host) {
		return nil
	}
	return fmt.Errorf("rpc: refusing to serve plaintext on %s, which is not a loopback address: give --tls-cert and --tls-key, or --allow-plaintext if something else encrypts the traffic", addr)
}

// IsLoopback reports whether host names only the local machine.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
