package rpc

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// corsMaxAge is how long, in seconds, a browser may cache a preflight.
const corsMaxAge = 2 * 60 * 60

// WithCORS lets scripts of web pages served from origins (exact origins
// such as https://app.example.com) call the server with Connect or
// gRPC-Web from a browser: preflights from those origins are answered,
// and responses to them carry the CORS headers that let the script read
// them. Requests from any other origin get no CORS header, so browsers
// keep their scripts from reading the answers. Off by default.
//
// Each origin must pass CheckCORSOrigin; one that does not (a wildcard
// above all) is left out and logged. The browser still sends the bearer
// token in the Authorization header on every call; CORS only decides
// which pages' scripts may do so. Cookies and client certificates are
// not allowed to travel cross-origin (no Access-Control-Allow-Credentials).
func WithCORS(origins ...string) Option {
	return func(c *config) { c.edge.corsOrigins = append(c.edge.corsOrigins, origins...) }
}

// CheckCORSOrigin reports whether origin can be allowed with WithCORS: a
// scheme (http or https), a host and optionally a port, and nothing else,
// exactly as a browser sends it in the Origin header. A wildcard is
// refused: every call carries a bearer token, and "*" would let a script
// on any web page a user visits call the server with a token it holds.
func CheckCORSOrigin(origin string) error {
	if strings.Contains(origin, "*") {
		return fmt.Errorf("CORS origin %q: wildcards are not allowed, since every call carries a bearer token; list each web app's exact origin, e.g. https://app.example.com", origin)
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("CORS origin %q is not an origin: write scheme://host[:port] with no path, e.g. https://app.example.com", origin)
	}
	if u.Path == "/" {
		return fmt.Errorf("CORS origin %q: drop the trailing slash; browsers send origins as scheme://host[:port]", origin)
	}
	return nil
}

// corsAllowedHeaders are the request headers a browser script may send:
// Connect's and gRPC-Web's own, and FeatureVault's credential, purpose
// and strict-mode headers.
func corsAllowedHeaders() []string {
	return append(connectcors.AllowedHeaders(), "Authorization", HeaderPurpose, HeaderStrict,
		"Connect-Content-Encoding", "Connect-Accept-Encoding", "Grpc-Accept-Encoding")
}

// corsExposedHeaders are the response headers a browser script may read:
// gRPC-Web's status trailers (sent as headers) and the encodings.
func corsExposedHeaders() []string {
	return append(connectcors.ExposedHeaders(), "Connect-Content-Encoding", "Connect-Accept-Encoding", "Grpc-Accept-Encoding", "Grpc-Encoding")
}

// cors returns the CORS middleware of the server's allow-list, or nil
// when none is configured.
func (s *Server) cors() *cors.Cors {
	var origins []string
	for _, o := range s.cfg.edge.corsOrigins {
		if err := CheckCORSOrigin(o); err != nil {
			s.cfg.logger.Error("CORS origin left out", "error", err)
			continue
		}
		origins = append(origins, o)
	}
	if len(origins) == 0 {
		// An empty allow-list means "*" to rs/cors: never hand it one.
		if len(s.cfg.edge.corsOrigins) > 0 {
			s.cfg.logger.Error("CORS is off: no valid origin", "error", errNoCORSOrigin)
		}
		return nil
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: corsAllowedHeaders(),
		ExposedHeaders: corsExposedHeaders(),
		MaxAge:         corsMaxAge,
	})
}

var errNoCORSOrigin = errors.New("rpc: every CORS origin given was refused; see CheckCORSOrigin")
