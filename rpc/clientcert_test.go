package rpc_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// TestClientCertificatesGateTheTransportAndTokensStillNameThePrincipal
// runs real TLS handshakes against a server that requires client
// certificates from one CA: no certificate and a certificate of another
// CA are refused in the handshake, before any request; the right
// certificate gets through, and the call then needs a bearer token or a
// certificate mapping (a certificate mapped to no principal gets
// PermissionDenied: see identity_test.go).
func TestClientCertificatesGateTheTransportAndTokensStillNameThePrincipal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	certFile, keyFile := writePair(t, t.TempDir(), serverCA.issue(t, "featurevault", true))
	url, token := serveTLS(t, dir, rpc.WithTLS(certFile, keyFile), rpc.WithClientCAs(clientCA.pool()))

	tests := []struct {
		name    string
		certs   []tls.Certificate
		token   string
		code    connect.Code // of the call, when the handshake succeeds
		wantTLS string       // part of the transport error, when it fails
	}{
		{name: "no client certificate", token: token, wantTLS: "certificate required"},
		{name: "certificate of another CA", certs: []tls.Certificate{otherCA.issue(t, "intruder", false)}, token: token, wantTLS: "unknown certificate authority"},
		{name: "right certificate, no token, no mapping", certs: []tls.Certificate{clientCA.issue(t, "trainer", false)}, code: connect.CodePermissionDenied},
		{name: "right certificate and token", certs: []tls.Certificate{clientCA.issue(t, "trainer", false)}, token: token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			admin := featurevaultv1connect.NewAdminServiceClient(tlsClient(serverCA.pool(), tt.certs...), url,
				connect.WithInterceptors(client.HeaderInterceptor(client.Headers(tt.token, "", false))))
			res, err := admin.ListFeatureViews(t.Context(), connect.NewRequest(&fvv1.ListFeatureViewsRequest{}))
			if tt.wantTLS != "" {
				checkHandshakeRefused(t, url, serverCA.pool(), tt.certs, err, tt.wantTLS)
				return
			}
			if got := connect.CodeOf(err); err != nil && got != tt.code || err == nil && tt.code != 0 {
				t.Fatalf("ListFeatureViews = %v, want code %v", err, tt.code)
			}
			if err == nil && res.Msg == nil {
				t.Fatal("ListFeatureViews returned no message")
			}
		})
	}
}

// TestClientCertificatesNeedTLS checks that a server given client CAs
// but no certificate refuses to start, in words naming the flags.
func TestClientCertificatesNeedTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openBackend(t, dir, quietLog)
	t.Cleanup(func() { _ = b.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err = rpc.NewServer(b, rpc.WithLogger(quietLog), rpc.WithClientCAs(newTestCA(t, "client CA").pool())).Serve(ctx, ln)
	if err == nil || !strings.Contains(err.Error(), "--tls-client-ca") || !strings.Contains(err.Error(), "--tls-cert") {
		t.Fatalf("Serve with client CAs and no TLS = %v, want a refusal naming --tls-client-ca and --tls-cert", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Errorf("the refused server's listener %s still accepts connections", ln.Addr())
	}
}

func TestLoadCertPoolSaysWhatIsWrongWithTheBundle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := newTestCA(t, "client CA")
	tests := []struct {
		name, file, want string
	}{
		{"missing file", filepath.Join(dir, "nope.pem"), "no such file"},
		{"no certificate", write("empty.pem", "not PEM at all\n"), "holds no PEM CERTIFICATE block"},
		{"only a key", write("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "holds no PEM CERTIFICATE block"},
		{"broken certificate", write("broken.pem", string(ca.pem)+"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "certificate 2 does not parse"},
		{"good bundle", write("good.pem", string(ca.pem)+string(newTestCA(t, "second CA").pem)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool, err := rpc.LoadCertPool(tt.file)
			if tt.want == "" {
				if err != nil || pool == nil {
					t.Fatalf("LoadCertPool(%s) = %v, %v; want a pool", tt.file, pool, err)
				}
				if _, err := ca.cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
					t.Errorf("the loaded pool does not trust the bundle's first CA: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadCertPool(%s) error = %v, want it to contain %q", tt.file, err, tt.want)
			}
		})
	}
}
