package keys

import (
	"log/slog"
	"slices"
	"time"

	"github.com/tink-crypto/tink-go/v2/core/registry"
)

// Options configures Open. Start from DefaultOptions and chain WithX calls;
// each returns a modified copy, so an Options value can be shared.
type Options struct {
	kmsURI     string
	kmsClients []registry.KMSClient
	create     bool
	cacheSize  int
	cacheTTL   time.Duration
	logger     *slog.Logger
	now        func() time.Time
}

// DefaultOptions returns options that cache up to 100,000 unwrapped subject
// keys for 10 minutes each. Creation is off (fail closed): the caller decides
// with WithCreate. The KMS URI is empty: the caller must set one with WithKMSURI.
func DefaultOptions() Options {
	return Options{cacheSize: 100_000, cacheTTL: 10 * time.Minute}
}

// WithKMSURI sets the URI of the root key, e.g. "local:///abs/path/root.json"
// (built in) or a URI of a client added with WithKMSClient ("hcvault://...",
// "aws-kms://...", "gcp-kms://...").
func (o Options) WithKMSURI(uri string) Options { o.kmsURI = uri; return o }

// WithKMSClient adds a Tink KMS client. Clients are asked in the order added,
// before the built-in local:// client, so a caller can also wrap the local one.
func (o Options) WithKMSClient(c registry.KMSClient) Options {
	o.kmsClients = append(slices.Clone(o.kmsClients), c)
	return o
}

// WithCreate sets whether Open may create a fresh KEK, blind-index key and (for
// local://) root key file when the keystore is empty. Pass false whenever data
// already exists: fresh keys over existing data would make it unreadable, and
// Open then refuses with ErrNoKeys instead.
func (o Options) WithCreate(allowed bool) Options { o.create = allowed; return o }

// WithCacheSize bounds how many unwrapped subject keys are kept (n > 0).
func (o Options) WithCacheSize(n int) Options { o.cacheSize = n; return o }

// WithCacheTTL sets how long an unwrapped subject key stays cached after it
// was loaded; 0 means until evicted by size or erasure.
func (o Options) WithCacheTTL(d time.Duration) Options { o.cacheTTL = d; return o }

// WithLogger sets the logger (default slog.Default()). The package logs counts,
// URIs' schemes and paths only, never key material.
func (o Options) WithLogger(l *slog.Logger) Options { o.logger = l; return o }

// WithClock sets the clock that dates KEK versions, rotations and rewraps
// (default time.Now); tests use it to age keys.
func (o Options) WithClock(now func() time.Time) Options { o.now = now; return o }
