package rpc_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// preflight sends a browser's CORS preflight for a Connect call from
// origin and returns the response headers.
func preflight(t *testing.T, url, origin string) http.Header {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, url+featurevaultv1connect.FeatureServiceGetOnlineFeaturesProcedure, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type,featurevault-purpose,featurevault-strict") // sorted, as browsers send it
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.Header
}

func TestCORSAnswersOnlyTheAllowedOrigins(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	withCORS := startServer(t, t.TempDir(), rpc.WithCORS(app, "http://localhost:5173"))
	without := startServer(t, t.TempDir())
	tests := []struct {
		name, url, origin string
		allowed           bool
	}{
		{"allowed origin", withCORS.url, app, true},
		{"second allowed origin", withCORS.url, "http://localhost:5173", true},
		{"other origin", withCORS.url, "https://evil.example.net", false},
		{"allowed host on another scheme", withCORS.url, "http://app.example.com", false},
		{"no CORS configured", without.url, app, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := preflight(t, tt.url, tt.origin)
			got := h.Get("Access-Control-Allow-Origin")
			if !tt.allowed {
				for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods"} {
					if v := h.Get(k); v != "" {
						t.Errorf("preflight from %s: %s = %q, want none", tt.origin, k, v)
					}
				}
				return
			}
			if got != tt.origin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tt.origin)
			}
			allowHeaders := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
			for _, want := range []string{"authorization", "content-type", "connect-protocol-version", "featurevault-purpose", "featurevault-strict"} {
				if !strings.Contains(allowHeaders, want) {
					t.Errorf("Access-Control-Allow-Headers = %q, want it to allow %s", allowHeaders, want)
				}
			}
			if m := h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
				t.Errorf("Access-Control-Allow-Methods = %q, want POST", m)
			}
			if c := h.Get("Access-Control-Allow-Credentials"); c != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q, want none: cookies and client certificates must not travel cross-origin", c)
			}
		})
	}
}

// TestCORSExposesTheStatusHeadersToAllowedOrigins checks the headers of an
// actual (not preflight) call: a gRPC-Web client reads the status from
// them, so the browser must be told it may.
func TestCORSExposesTheStatusHeadersToAllowedOrigins(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	s := startServer(t, t.TempDir(), rpc.WithCORS(app))
	for _, origin := range []string{app, "https://evil.example.net"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+featurevaultv1connect.AdminServiceListFeatureViewsProcedure, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("POST from %s: status %d, want 200 (CORS never blocks on the server side)", origin, res.StatusCode)
		}
		exposed := res.Header.Get("Access-Control-Expose-Headers")
		if origin != app {
			if exposed != "" || res.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("POST from %s got CORS headers %q, %q; want none", origin, res.Header.Get("Access-Control-Allow-Origin"), exposed)
			}
			continue
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != app {
			t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, app)
		}
		for _, want := range []string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin"} {
			if !strings.Contains(exposed, want) {
				t.Errorf("Access-Control-Expose-Headers = %q, want it to expose %s", exposed, want)
			}
		}
	}
}

func TestCheckCORSOriginRefusesWildcardsAndNonOrigins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		origin, want string // want: part of the error, "" for none
	}{
		{"https://app.example.com", ""},
		{"http://localhost:5173", ""},
		{"http://[::1]:8080", ""},
		{"*", "wildcards are not allowed"},
		{"https://*.example.com", "wildcards are not allowed"},
		{"app.example.com", "is not an origin"},
		{"ftp://app.example.com", "is not an origin"},
		{"https://app.example.com/path", "is not an origin"},
		{"https://app.example.com/", "drop the trailing slash"},
		{"https://user@app.example.com", "is not an origin"},
		{"https://app.example.com?x=1", "is not an origin"},
		{"", "is not an origin"},
	}
	for _, tt := range tests {
		err := rpc.CheckCORSOrigin(tt.origin)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckCORSOrigin(%q) = %v, want %q", tt.origin, err, tt.want)
		}
	}
}
