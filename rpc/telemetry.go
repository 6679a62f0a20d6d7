package rpc

import (
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/store"
	"github.com/featurevault/featurevault/telemetry"
)

// WithTelemetry measures the server with t: every call is counted, timed
// and (when t traces) traced by t's interceptors, which run before
// authentication so that refused calls are measured too; column decisions,
// released privacy budget and erasures are counted where they happen; and
// t reads the backend's key-cache, KMS and audit counters when scraped.
// Labels never name a principal, a subject or a value (see the telemetry
// package). Default: no telemetry.
func WithTelemetry(t *telemetry.T) Option { return func(c *config) { c.telemetry = t } }

// watchBackend points the server's telemetry, if any, at b's counters.
func (s *Server) watchBackend(b *Backend) {
	if s.cfg.telemetry == nil || b == nil {
		return
	}
	var src telemetry.Sources
	if b.Audit != nil { // a nil *audit.Log must not become a non-nil interface
		src.Audit = b.Audit
	}
	if b.Store != nil {
		src.Keys = b.Store.Keyring()
	}
	s.cfg.telemetry.Watch(src)
}

// erasedSubjects counts the distinct subjects of an erasure's receipts (a
// key named twice in one request has two receipts for one subject).
func erasedSubjects(receipts []store.Erasure) int {
	seen := make(map[keys.BlindIndex]struct{}, len(receipts))
	for _, r := range receipts {
		seen[r.BlindIndex] = struct{}{}
	}
	return len(seen)
}
