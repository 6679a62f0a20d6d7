package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// serveConfig is what "fvbench serve" runs: the FeatureVault server (the
// same rpc.Backend and rpc.Server as "featurevault serve") with
// net/http/pprof on a second loopback port, so that the server's hot path
// can be profiled under load. The product's binary does not expose pprof.
type serveConfig struct {
	data        string
	listen      string
	pprof       string
	rateLimit   float64
	rateBurst   int
	syncWrites  bool
	groupCommit bool
	// subjectCache, when positive, sizes the cache of unwrapped subject
	// keys (keys.Options.WithCacheSize), to measure its effect.
	subjectCache int
	// blockRate and mutexFraction turn on the runtime's block and mutex
	// profiles (runtime.SetBlockProfileRate, SetMutexProfileFraction), for
	// /debug/pprof/block and /debug/pprof/mutex; 0 leaves them off.
	blockRate     int
	mutexFraction int
	// memoryBudget, when positive, sizes the store as featurevault serve's
	// --memory-budget does, and is the Go runtime's soft memory limit
	// unless GOMEMLIMIT sets one (as featurevault serve), so that a limit
	// can be compared with profiles at hand.
	memoryBudget int64
}

// serveBench serves until ctx is done. It prints the server's and pprof's
// URLs on out once both listen.
func serveBench(ctx context.Context, cfg serveConfig, out, logw io.Writer) error {
	for _, a := range []struct{ flag, addr string }{{"--listen", cfg.listen}, {"--pprof", cfg.pprof}} {
		if err := checkLocalHostPort(a.flag, a.addr, false); err != nil {
			return err
		}
	}
	if cfg.blockRate > 0 {
		runtime.SetBlockProfileRate(cfg.blockRate)
	}
	if cfg.mutexFraction > 0 {
		runtime.SetMutexProfileFraction(cfg.mutexFraction)
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := store.DefaultOptions(cfg.data).WithLogger(log).WithSyncWrites(cfg.syncWrites).WithGroupCommit(cfg.groupCommit)
	if cfg.memoryBudget > 0 {
		var err error
		if o, err = o.WithMemoryBudget(cfg.memoryBudget); err != nil {
			return err
		}
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(cfg.memoryBudget)
		}
	}
	if cfg.subjectCache > 0 {
		o = o.WithKeys(keys.DefaultOptions().WithCacheSize(cfg.subjectCache))
	}
	b, err := rpc.OpenBackend(ctx, cfg.data, o, log)
	if err != nil {
		return err
	}
	defer b.Close()
	wctx, stopWarm := context.WithCancel(ctx)
	warmed := make(chan struct{})
	go func() { defer close(warmed); b.WarmSubjectKeys(wctx, log) }() // as featurevault serve does
	defer func() { stopWarm(); <-warmed }()
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	pln, err := net.Listen("tcp", cfg.pprof)
	if err != nil {
		_ = ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	psrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go psrv.Serve(pln)
	defer psrv.Close()
	fmt.Fprintf(out, "featurevault serving on http://%s\n", ln.Addr())
	fmt.Fprintf(out, "pprof on http://%s/debug/pprof/\n", pln.Addr())
	err = rpc.NewServer(b, rpc.WithLogger(log), rpc.WithRateLimit(cfg.rateLimit, cfg.rateBurst)).Serve(ctx, ln)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
