package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/flightsrv"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/kmsclient"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
	"github.com/featurevault/featurevault/telemetry"
)

// serveConfig holds the flags of "featurevault serve".
type serveConfig struct {
	data            string
	listen          string
	kms             string
	tlsCert         string
	tlsKey          string
	allowPlaintext  bool
	maxRequestBytes int
	maxIngestBatch  int64
	env             string
	rateLimit       float64
	rateBurst       int
	logFormat       string
	logLevel        string
	kekRotation     time.Duration
	warmKeys        bool
	metricsListen   string
	otelEndpoint    string
	otelSampleRatio float64
	config          string        // --config (or FEATUREVAULT_CONFIG): a YAML file of these flags
	edge            serveEdge     // TLS dev certificate, client CAs, CORS, stream limits (serve_edge.go)
	identity        serveIdentity // OIDC issuers, audit checkpoints (serve_identity.go)
	memory          serveMemory   // --memory-budget (serve_memory.go)
	limits          serveLimits   // per-request limits (serve_limits.go)
	store           serveStore    // --store: embedded Badger or a shared PostgreSQL store (serve_store.go)
	online          serveOnline   // --online: the Redis Cluster tier (serve_online.go)
}

func newServeCmd(getenv func(string) string) *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the FeatureVault server",
		Long: `Serve opens the encrypted store in --data (creating it, its keystore and,
by default, a local development KMS on first start) and serves Connect, gRPC
and gRPC-Web on --listen until SIGINT or SIGTERM, then shuts down gracefully.

Plaintext HTTP is served only on a loopback address; elsewhere give
--tls-cert and --tls-key, or --allow-plaintext when something else (a
service mesh) encrypts the traffic.
--tls-self-signed makes a certificate for development instead (kept in
DIR/tls/; clients must trust DIR/tls/cert.pem), and --tls-client-ca
requires client certificates on top of bearer tokens. Browsers' scripts
may call the server only from the origins given with --cors-origin.

Every flag can also be set in a YAML file (--config FILE, or
FEATUREVAULT_CONFIG), keyed by flag name; the command line wins.

The default KMS is a key file in DIR/kms/root.json: it is for development
only. In production pass --kms with the URI of a real KMS key:
hcvault://HOST:PORT/transit/keys/NAME (Vault or OpenBao transit; VAULT_TOKEN,
and VAULT_ADDR for an http:// dev server), aws-kms://arn:aws:kms:... (the AWS
SDK's credentials) or gcp-kms://projects/... (Application Default
Credentials). If the KMS cannot be reached at start, serve says so and
changes nothing.

--kek-rotation runs the key lifecycle on a schedule; the shred horizon is
then at most twice the period (docs/shred-horizon.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.config == "" {
				cfg.config = getenv(envConfig)
			}
			if err := applyConfigFile(cmd, cfg.config); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.data, "data", "./featurevault-data", "directory of the store (data/, keystore/, kms/)")
	f.StringVar(&cfg.listen, "listen", "127.0.0.1:8433", "address to listen on, host:port (port 0 picks a free one)")
	f.StringVar(&cfg.kms, "kms", "", "URI of the root key that wraps the KEK (default: the local development KMS in DIR/kms/root.json)")
	f.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate file; serve TLS (with --tls-key)")
	f.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.BoolVar(&cfg.allowPlaintext, "allow-plaintext", false, "allow plaintext HTTP on a non-loopback address")
	f.IntVar(&cfg.maxRequestBytes, "max-request-bytes", rpc.DefaultMaxRequestBytes, "largest request message accepted, in bytes")
	f.Int64Var(&cfg.maxIngestBatch, "max-ingest-batch-bytes", rpc.DefaultMaxIngestBatchBytes, "largest Arrow record batch body a client may send (ingest, entity rows of point-in-time joins), in bytes")
	f.StringVar(&cfg.env, "env", rpc.DefaultEnv, "environment this server runs in (prod, staging, dev); policies and principals' env attribute refer to it")
	f.Float64Var(&cfg.rateLimit, "rate-limit", 10_000, "requests per second allowed to each principal on average (0: no limit); on a shared store, across all its servers (each allows its share)")
	f.IntVar(&cfg.rateBurst, "rate-burst", 20_000, "requests a principal may make in a burst above --rate-limit (on a shared store, across all its servers)")
	f.StringVar(&cfg.logFormat, "log-format", "text", "log format on standard error: text or json")
	f.StringVar(&cfg.logLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
	f.StringVar(&cfg.metricsListen, "metrics-listen", "", "address of a separate listener serving Prometheus metrics at /metrics, e.g. 127.0.0.1:9464 (default off; loopback only unless TLS or --allow-plaintext)")
	f.StringVar(&cfg.otelEndpoint, "otel-endpoint", "", "OTLP/HTTP collector URL to export traces to, e.g. http://127.0.0.1:4318 (default off; spans carry no values, tokens or headers)")
	f.Float64Var(&cfg.otelSampleRatio, "otel-sample-ratio", telemetry.DefaultSampleRatio, "share of calls traced, 0 to 1 (1 while debugging)")
	f.DurationVar(&cfg.kekRotation, "kek-rotation", 0, "rotate the KEK this often (e.g. 720h): each time, retire versions that wrap nothing, rotate, and re-wrap every key; 0 turns it off (see featurevault keys)")
	f.BoolVar(&cfg.warmKeys, "warm-keys", true, "after start, fill the subject key cache from the keystore in the background (up to the cache's size, set by --memory-budget), so that first reads of a subject do not wait for its key")
	cfg.edge.addFlags(cmd)
	cfg.identity.addFlags(cmd)
	cfg.memory.addFlags(cmd)
	cfg.limits.addFlags(cmd)
	cfg.store.addFlags(cmd)
	cfg.online.addFlags(cmd)
	addConfigFlag(cmd, &cfg.config)
	registerServeCompletions(cmd)
	return cmd
}

// serve runs the server until ctx is done. It prints the URL clients
// should use on stdout once the listener is open, so that a script (or a
// test) that asked for port 0 learns the port.
func serve(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer) (err error) {
	logger, err := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together; give both or neither")
	}
	if cfg.maxRequestBytes <= 0 {
		return fmt.Errorf("--max-request-bytes must be positive, got %d", cfg.maxRequestBytes)
	}
	if cfg.maxIngestBatch <= 0 {
		return fmt.Errorf("--max-ingest-batch-bytes must be positive, got %d", cfg.maxIngestBatch)
	}
	if err := cfg.memory.check(); err != nil {
		return err
	}
	if err := cfg.limits.check(); err != nil {
		return err
	}
	clientCAs, err := cfg.edge.check(cfg.tlsCert != "")
	if err != nil {
		return err
	}
	identityOpts, err := cfg.identity.options()
	if err != nil {
		return err
	}
	tls := cfg.tlsCert != "" || cfg.edge.tlsSelfSigned
	if err := rpc.CheckListen(cfg.listen, tls, cfg.allowPlaintext); err != nil {
		return err
	}
	if err := checkTelemetryFlags(cfg, tls); err != nil {
		return err
	}

	if cfg.kekRotation < 0 || (cfg.kekRotation > 0 && cfg.kekRotation < time.Second) {
		return fmt.Errorf("--kek-rotation %s: give a period of at least 1s (e.g. 720h), or 0 to turn it off", cfg.kekRotation)
	}
	kc, err := kmsclient.For(ctx, cfg.kms, os.Getenv)
	if err != nil {
		return err
	}
	ko := keys.DefaultOptions()
	if kc != nil {
		ko = ko.WithKMSClient(kc)
	}
	if err := cfg.store.check(); err != nil {
		return err
	}
	so, err := cfg.memory.apply(store.DefaultOptions(cfg.data).WithKMSURI(cfg.kms).WithKeys(ko).WithLogger(logger), logger)
	if err != nil {
		return err
	}
	so, limitOpts := cfg.limits.apply(so, nil)
	if so, err = cfg.online.storeOptions(so, logger); err != nil {
		return err
	}
	backend, err := cfg.store.open(ctx, cfg.data, so, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := backend.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	// Background work stops, and is waited for, before the backend closes.
	if cfg.warmKeys {
		defer inBackground(ctx, func(ctx context.Context) { backend.WarmSubjectKeys(ctx, logger) })()
	}
	if cfg.kekRotation > 0 {
		defer inBackground(ctx, func(ctx context.Context) { backend.RunKEKRotation(ctx, cfg.kekRotation, logger) })()
	}
	if backend.AdminTokenPath != "" {
		fmt.Fprintf(stdout, "bootstrap admin token written to %s (mode 0600); client commands beside this server read it\n", backend.AdminTokenPath)
	}
	if cfg.edge.tlsSelfSigned {
		if cfg.tlsCert, cfg.tlsKey, err = selfSignedTLS(cfg.data, cfg.listen, stdout, logger); err != nil {
			return err
		}
	}

	tel, stopTelemetry, err := startTelemetry(ctx, cfg, logger, stdout)
	if err != nil {
		return err
	}
	defer stopTelemetry() // after the server has stopped, before the store closes
	opts := []rpc.Option{
		rpc.WithTelemetry(tel),
		rpc.WithLogger(logger),
		rpc.WithMaxRequestBytes(cfg.maxRequestBytes),
		rpc.WithMaxIngestBatchBytes(cfg.maxIngestBatch),
		rpc.WithAllowPlaintext(cfg.allowPlaintext),
		rpc.WithEnv(cfg.env),
		rpc.WithRateLimit(cfg.rateLimit, cfg.rateBurst),
	}
	opts = append(opts, cfg.edge.options(clientCAs)...)
	opts = append(opts, identityOpts...)
	opts = append(opts, limitOpts...)
	onlineOpts, closeOnline, err := cfg.online.attach(ctx, backend.Store, tel, logger)
	if err != nil {
		return err
	}
	defer closeOnline() // after the server has stopped, before the store closes
	opts = append(opts, onlineOpts...)
	scheme := "http"
	if tls {
		opts = append(opts, rpc.WithTLS(cfg.tlsCert, cfg.tlsKey))
		scheme = "https"
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.listen, err)
	}
	endpoint := scheme + "://" + ln.Addr().String()
	logger.Info("featurevault serving", "url", endpoint, "data", cfg.data)
	fmt.Fprintf(stdout, "featurevault serving on %s\n", endpoint)
	srv := rpc.NewServer(backend, opts...)
	// Arrow Flight on the same port (package flightsrv).
	srv.Mount(flightsrv.Prefix, flightsrv.New(srv, flightsrv.WithLogger(logger), flightsrv.WithMaxBatchBytes(cfg.maxIngestBatch)))
	err = srv.Serve(ctx, ln)
	logger.Info("featurevault stopped")
	return err
}

// inBackground runs fn in a goroutine on a child of ctx, and returns the
// function that cancels it and waits for fn to return.
func inBackground(ctx context.Context, fn func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { fn(ctx) })
	return func() { cancel(); wg.Wait() }
}

// newLogger returns a slog logger writing to w in the given format.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}
