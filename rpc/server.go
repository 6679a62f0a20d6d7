package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/store"
)

// DefaultMaxRequestBytes is the default limit on one request message.
const DefaultMaxRequestBytes = 4 << 20

// Server is the FeatureVault network server.
type Server struct {
	store *store.Store
	cfg   config
}

type config struct {
	logger          *slog.Logger
	maxRequestBytes int
	certFile        string
	keyFile         string
	allowPlaintext  bool
}

// Option configures a Server.
type Option func(*config)

// WithLogger sets the server's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithMaxRequestBytes limits the size of one request message; larger ones
// are refused with ResourceExhausted (default DefaultMaxRequestBytes).
func WithMaxRequestBytes(n int) Option { return func(c *config) { c.maxRequestBytes = n } }

// WithTLS serves TLS with the certificate and key in these PEM files.
func WithTLS(certFile, keyFile string) Option {
	return func(c *config) { c.certFile, c.keyFile = certFile, keyFile }
}

// WithAllowPlaintext permits cleartext HTTP on a non-loopback address.
// Only for deployments where something else (a mesh sidecar) encrypts.
func WithAllowPlaintext(b bool) Option { return func(c *config) { c.allowPlaintext = b } }

// NewServer returns a server for st.
func NewServer(st *store.Store, opts ...Option) *Server {
	cfg := config{logger: slog.Default(), maxRequestBytes: DefaultMaxRequestBytes}
	for _, o := range opts {
		o(&cfg)
	}
	return &Server{store: st, cfg: cfg}
}

// Handler returns the HTTP handler serving both services and reflection.
func (s *Server) Handler() http.Handler {
	hopts := []connect.HandlerOption{connect.WithReadMaxBytes(s.cfg.maxRequestBytes)}
	mux := http.NewServeMux()
	mux.Handle(featurevaultv1connect.NewFeatureServiceHandler(&featureHandler{store: s.store, log: s.cfg.logger}, hopts...))
	mux.Handle(featurevaultv1connect.NewAdminServiceHandler(&adminHandler{store: s.store, log: s.cfg.logger}, hopts...))
	reflector := grpcreflect.NewStaticReflector(featurevaultv1connect.FeatureServiceName, featurevaultv1connect.AdminServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	return mux
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
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Protocols:         &protocols,
		ErrorLog:          slog.NewLogLogger(s.cfg.logger.Handler(), slog.LevelWarn),
	}
	if s.cfg.certFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.certFile, s.cfg.keyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("rpc: load TLS certificate %s and key %s: %w", s.cfg.certFile, s.cfg.keyFile, err)
		}
		protocols.SetHTTP2(true)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("rpc: serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("rpc: shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("rpc: serve: %w", err)
	}
	return nil
}

// checkTransport refuses cleartext on an address other hosts can reach.
func (s *Server) checkTransport(addr string) error {
	if s.cfg.certFile != "" || s.cfg.allowPlaintext {
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
