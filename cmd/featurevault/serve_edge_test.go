package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	fvclient "github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// TestServeRefusesBadEdgeFlagsBeforeTouchingTheDataDirectory checks the
// TLS, CORS and stream-limit flags: each mistake is refused with a message
// that says what to fix, and nothing is created.
func TestServeRefusesBadEdgeFlagsBeforeTouchingTheDataDirectory(t *testing.T) {
	t.Parallel()
	junk := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"self-signed and a certificate", []string{"--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, "--tls-self-signed makes its own certificate"},
		{"client CA without TLS", []string{"--tls-client-ca", junk}, "--tls-client-ca needs TLS"},
		{"unreadable client CA", []string{"--tls-self-signed", "--tls-client-ca", missing}, "--tls-client-ca " + missing},
		{"client CA without certificates", []string{"--tls-self-signed", "--tls-client-ca", junk}, "holds no PEM CERTIFICATE block"},
		{"wildcard CORS origin", []string{"--cors-origin", "*"}, "wildcards are not allowed"},
		{"CORS origin with a path", []string{"--cors-origin", "https://app.example.com/ui"}, "is not an origin"},
		{"negative stream duration", []string{"--max-stream-duration", "-1s"}, "--max-stream-duration -1s"},
		{"sub-second stream duration", []string{"--max-stream-duration", "10ms"}, "give at least 1s"},
		{"negative streams per principal", []string{"--max-streams-per-principal", "-1"}, "--max-streams-per-principal -1"},
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

// TestSelfSignedTLSServesClientsThatTrustThePrintedCertificate starts
// serve with --tls-self-signed: it warns that the certificate is for
// development, prints where the PEM is and its fingerprint; a client that
// trusts that PEM gets through the TLS handshake and one that does not is
// refused; a restart reuses the same certificate.
func TestSelfSignedTLSServesClientsThatTrustThePrintedCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, url, stop := serveOut(t, dir, "--tls-self-signed")
	text := strings.Join(out, "\n")
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("URL = %q, want https://127.0.0.1:PORT", url)
	}
	certFile := filepath.Join(dir, "tls", "cert.pem")
	for _, want := range []string{"WARNING: serving TLS with a self-signed certificate (created): for development only", "TLS certificate: " + certFile} {
		if !strings.Contains(text, want) {
			t.Errorf("serve's output does not say %q:\n%s", want, text)
		}
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("%s holds no PEM block", certFile)
	}
	if want := "TLS certificate SHA-256 fingerprint: " + colonHex(sha256.Sum256(block.Bytes)); !strings.Contains(text, want) {
		t.Errorf("serve's output does not print the PEM's fingerprint %q:\n%s", want, text)
	}
	for _, p := range []struct {
		path string
		mode os.FileMode
	}{{filepath.Join(dir, "tls"), 0o700 | os.ModeDir}, {filepath.Join(dir, "tls", "key.pem"), 0o600}} {
		if st, err := os.Stat(p.path); err != nil || st.Mode() != p.mode {
			t.Errorf("%s: mode %v (%v), want %v", p.path, st.Mode(), err, p.mode)
		}
	}

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("the printed certificate does not load")
	}
	token := testServer{dir: dir}.adminToken(t)
	list := func(roots *x509.CertPool) error {
		hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
		admin := featurevaultv1connect.NewAdminServiceClient(hc, url, connect.WithInterceptors(fvclient.HeaderInterceptor(fvclient.Headers(token, "", false))))
		_, err := admin.ListFeatureViews(t.Context(), connect.NewRequest(&fvv1.ListFeatureViewsRequest{}))
		return err
	}
	if err := list(roots); err != nil {
		t.Errorf("a client trusting %s: %v", certFile, err)
	}
	if err := list(x509.NewCertPool()); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("a client not trusting the certificate = %v, want the handshake refused (unknown authority)", err)
	}

	stop()
	out, _, _ = serveOut(t, dir, "--tls-self-signed")
	text2 := strings.Join(out, "\n")
	if !strings.Contains(text2, "(reused)") || !strings.Contains(text2, colonHex(sha256.Sum256(block.Bytes))) {
		t.Errorf("after a restart serve printed:\n%s\nwant the same certificate reused", text2)
	}
}

func colonHex(sum [32]byte) string {
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func TestDevCertificateNamesTheListenHostAndIsRenewedWhenItMustBe(t *testing.T) {
	t.Parallel()
	now := time.Now()
	dir := t.TempDir()
	hosts := devCertHosts("10.1.2.3:8433")
	first, err := loadOrMakeDevCert(dir, hosts, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1", "10.1.2.3"} {
		if err := first.leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate for listen 10.1.2.3:8433 is not valid for %s: %v", h, err)
		}
	}
	if err := first.leaf.VerifyHostname("10.9.9.9"); err == nil {
		t.Error("certificate is valid for 10.9.9.9, a host it was not made for")
	}
	if pub := first.leaf.PublicKeyAlgorithm; pub != x509.ECDSA {
		t.Errorf("key algorithm = %v, want ECDSA (P-256)", pub)
	}
	tests := []struct {
		name    string
		hosts   []string
		at      time.Time
		created bool
	}{
		{"same hosts, early: reused", hosts, now.Add(24 * time.Hour), false},
		{"another host: made anew", devCertHosts("app.internal:8433"), now, true},
		{"within a week of expiry: renewed", devCertHosts("app.internal:8433"), now.Add(devCertLifetime - 3*24*time.Hour), true},
	}
	for _, tt := range tests { // in order: each step sees the previous one's file
		c, err := loadOrMakeDevCert(dir, tt.hosts, tt.at)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if c.created != tt.created {
			t.Errorf("%s: created = %v, want %v", tt.name, c.created, tt.created)
		}
	}
}

func TestDevCertHostsCoverLoopbackAndTheListenHost(t *testing.T) {
	t.Parallel()
	hostname, _ := os.Hostname()
	tests := []struct {
		listen string
		want   string // the host added to the loopback names, "" for none
	}{
		{"127.0.0.1:8433", ""},
		{"[::1]:8433", ""},
		{"localhost:8433", ""},
		{"10.1.2.3:8433", "10.1.2.3"},
		{"fv.example.com:443", "fv.example.com"},
		{"0.0.0.0:8433", hostname},
		{":8433", hostname},
	}
	for _, tt := range tests {
		got := devCertHosts(tt.listen)
		want := []string{"localhost", "127.0.0.1", "::1"}
		if tt.want != "" {
			want = append(want, tt.want)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("devCertHosts(%q) = %v, want %v", tt.listen, got, want)
		}
	}
}

func TestCompletionScriptsAndServeFlagValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"completion", "bash"}, []string{"featurevault", "__start_featurevault"}},
		{[]string{"completion", "zsh"}, []string{"#compdef featurevault"}},
		{[]string{"completion", "fish"}, []string{"complete -c featurevault"}},
		{[]string{"completion", "powershell"}, []string{"Register-ArgumentCompleter", "featurevault"}},
		{[]string{"__complete", "serve", "--log-format", ""}, []string{"text\n", "json\n"}},
		{[]string{"__complete", "serve", "--log-level", ""}, []string{"debug\n", "info\n", "warn\n", "error\n"}},
		{[]string{"__complete", "serve", "--max-stream"}, []string{"--max-stream-duration", "--max-streams-per-principal"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tt.args, noEnv, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Fatalf("featurevault %s exited %d: %s", strings.Join(tt.args, " "), code, stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("featurevault %s printed no %q", strings.Join(tt.args, " "), w)
				}
			}
		})
	}
}
