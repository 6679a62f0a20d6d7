package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/rpc"
)

func TestCheckPlaintextRefusesNonLoopbackAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr       string
		tls, allow bool
		wantErr    bool
	}{
		{"127.0.0.1:8433", false, false, false},
		{"localhost:8433", false, false, false},
		{"[::1]:8433", false, false, false},
		{"0.0.0.0:8433", false, false, true},
		{":8433", false, false, true},
		{"10.1.2.3:8433", false, false, true},
		{"0.0.0.0:8433", true, false, false},
		{"0.0.0.0:8433", false, true, false},
		{"no-port", false, false, true},
	}
	for _, tt := range tests {
		err := rpc.CheckListen(tt.addr, tt.tls, tt.allow)
		if (err != nil) != tt.wantErr {
			t.Errorf("CheckListen(%q, tls=%v, allow=%v) = %v, want error: %v", tt.addr, tt.tls, tt.allow, err, tt.wantErr)
		}
	}
}

// TestServeRefusesBadSetupBeforeTouchingTheDataDirectory checks that a
// refused start creates no store (and so no fresh keys) anywhere.
func TestServeRefusesBadSetupBeforeTouchingTheDataDirectory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plaintext off loopback", []string{"--listen", "0.0.0.0:0"}, "refusing to serve plaintext on 0.0.0.0:0"},
		{"certificate without key", []string{"--tls-cert", "cert.pem"}, "--tls-cert and --tls-key go together"},
		{"bad log format", []string{"--log-format", "xml"}, `--log-format "xml": use text or json`},
		{"bad log level", []string{"--log-level", "loud"}, `--log-level "loud"`},
		{"non-positive request limit", []string{"--max-request-bytes", "0"}, "--max-request-bytes must be positive"},
		{"non-positive ingest batch limit", []string{"--max-ingest-batch-bytes", "-1"}, "--max-ingest-batch-bytes must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if stderr := serveRefused(t, tt.args...); !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

// serveRefused runs "featurevault serve" on a fresh data directory with
// args, checks that it exits 1 without creating the directory, and returns
// what it wrote on stderr.
func serveRefused(t *testing.T, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	args = append([]string{"serve", "--data", dir}, args...)
	if code := run(t.Context(), args, noEnv, strings.NewReader(""), &stdout, &stderr); code != 1 {
		t.Errorf("featurevault %s exited %d, want 1", strings.Join(args, " "), code)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused serve created %s (stat: %v)", dir, err)
	}
	return stderr.String()
}
