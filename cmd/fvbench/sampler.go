package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServerSample is one reading of the server's runtime, taken through its
// net/http/pprof endpoint ("fvbench serve --pprof").
type ServerSample struct {
	// AtS is when the sample was taken, in seconds from the start of the
	// measured soak (negative: during warm-up).
	AtS float64 `json:"at_s"`
	// Goroutines is runtime.NumGoroutine of the server, including the one
	// answering the sample's own request.
	Goroutines int `json:"goroutines"`
	// HeapLive is runtime.MemStats.HeapAlloc read right after a forced
	// garbage collection (pprof's heap?gc=1): the live heap, plus whatever
	// requests in flight allocated since the collection ended.
	HeapLive uint64 `json:"heap_live_bytes"`
	// BlockCache is the part of HeapLive that Badger's block caches hold,
	// estimated from the heap profile (see parseHeapText). A block cache
	// grows toward its cap (256 MiB per database by default) as reads
	// touch tables that compactions keep rewriting: bounded by design,
	// so the soak's heap criteria leave it out.
	BlockCache uint64 `json:"badger_block_cache_bytes"`
	// RSS is the server's resident set size, when its PID is known.
	RSS int64 `json:"rss_bytes,omitempty"`
	// Quiet is set for samples taken with no load running and every idle
	// connection closed.
	Quiet bool `json:"quiet,omitempty"`
}

// pprofSampler reads goroutine counts and the live heap from a server's
// net/http/pprof endpoint. Each sample forces a garbage collection in the
// server (a pause of a few milliseconds): sample every few seconds, not in
// a tight loop.
type pprofSampler struct {
	base string // e.g. http://127.0.0.1:6060/debug/pprof
	pid  int    // the server's PID, for RSS (0: unknown)
	hc   *http.Client
}

// newPprofSampler samples the server whose pprof index is at url
// (".../debug/pprof/", as "fvbench serve" prints it).
func newPprofSampler(url string, pid int) *pprofSampler {
	// No keep-alive: a connection held open between samples would be a
	// goroutine of the server's that the soak itself adds.
	return &pprofSampler{
		base: strings.TrimSuffix(strings.TrimSuffix(url, "/"), "/debug/pprof") + "/debug/pprof",
		pid:  pid,
		hc:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
}

// sample takes one reading.
func (s *pprofSampler) sample(ctx context.Context) (ServerSample, error) {
	var out ServerSample
	g, err := s.scan(ctx, "/goroutine?debug=1", "goroutine profile: total ")
	if err != nil {
		return out, err
	}
	if out.Goroutines, err = strconv.Atoi(g); err != nil {
		return out, fmt.Errorf("pprof: goroutine count %q: %w", g, err)
	}
	body, err := s.get(ctx, "/heap?gc=1&debug=1")
	if err != nil {
		return out, err
	}
	h, err := parseHeapText(body)
	_ = body.Close()
	if err != nil {
		return out, fmt.Errorf("pprof: %w", err)
	}
	out.HeapLive, out.BlockCache = h.heapAlloc, h.blockCache
	if s.pid > 0 {
		out.RSS, _ = procRSS(s.pid)
	}
	return out, nil
}

// get fetches a pprof endpoint; the caller closes the body.
func (s *pprofSampler) get(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	if err != nil {
		return nil, err
	}
	res, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		_ = res.Body.Close()
		return nil, fmt.Errorf("pprof: %s answered %s", s.base+path, res.Status)
	}
	return res.Body, nil
}

// scan fetches a pprof text profile and returns what follows prefix on
// the first line that starts with it.
func (s *pprofSampler) scan(ctx context.Context, path, prefix string) (string, error) {
	body, err := s.get(ctx, path)
	if err != nil {
		return "", err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			_, _ = io.Copy(io.Discard, body)
			return strings.TrimSpace(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("pprof: read %s: %w", path, err)
	}
	return "", fmt.Errorf("pprof: %s has no line %q: is %s a Go net/http/pprof endpoint?", path, prefix, s.base)
}

// retained is the live heap without Badger's block caches: what the soak's
// heap criteria watch.
func (s ServerSample) retained() uint64 { return s.HeapLive - min(s.BlockCache, s.HeapLive) }
