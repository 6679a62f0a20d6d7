// Package client is the Go client of FeatureVault for training jobs and
// batch pipelines: it reads views and point-in-time joins as Arrow record
// readers and writes Arrow tables, over the FeatureService API (Connect,
// gRPC or gRPC-Web).
//
// The Arrow data it hands out holds decrypted feature values and raw entity
// keys: treat it as the sensitive data it is, and release readers when done
// (they hold the server stream open).
package client

import (
	"net/http"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// Client calls one FeatureVault server. It is safe for concurrent use.
type Client struct {
	fs  featurevaultv1connect.FeatureServiceClient
	cfg config
}

type config struct {
	mem      memory.Allocator
	token    string
	purpose  string
	strict   bool
	extra    http.Header
	connOpts []connect.ClientOption
}

// Option configures New.
type Option func(*config)

// WithAllocator sets the allocator of the record batches the client builds
// and reads (default memory.DefaultAllocator). Tests pass a
// memory.CheckedAllocator to catch leaks.
func WithAllocator(mem memory.Allocator) Option { return func(c *config) { c.mem = mem } }

// WithToken sends token as a bearer credential with every call.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithPurpose states the purpose of every call (e.g. "training"), which the
// server's access policy may require.
func WithPurpose(purpose string) Option { return func(c *config) { c.purpose = purpose } }

// WithStrict makes reads fail with PermissionDenied when policy withholds
// any requested feature, instead of leaving it out.
func WithStrict(strict bool) Option { return func(c *config) { c.strict = strict } }

// WithHeaders sends these headers with every call, besides those the
// other options set.
func WithHeaders(h http.Header) Option { return func(c *config) { c.extra = h.Clone() } }

// WithConnectOptions passes options to the Connect client, e.g.
// connect.WithGRPC() to speak gRPC.
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return func(c *config) { c.connOpts = append(c.connOpts, opts...) }
}

// New returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8433") using httpClient (http.DefaultClient when nil).
func New(httpClient connect.HTTPClient, baseURL string, opts ...Option) *Client {
	cfg := config{mem: memory.DefaultAllocator}
	for _, o := range opts {
		o(&cfg)
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	c := &Client{cfg: cfg}
	h := Headers(cfg.token, cfg.purpose, cfg.strict)
	for k, v := range cfg.extra {
		if _, set := h[k]; !set {
			h[k] = v
		}
	}
	copts := append([]connect.ClientOption{connect.WithInterceptors(HeaderInterceptor(h))}, cfg.connOpts...)
	c.fs = featurevaultv1connect.NewFeatureServiceClient(httpClient, baseURL, copts...)
	return c
}
