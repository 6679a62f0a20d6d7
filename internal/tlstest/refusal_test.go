package tlstest_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/tlstest"
)

func TestRefusalReportsTheServersAlertAndNilForAnAcceptedClient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "https://")
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
	if err := tlstest.Refusal(addr, cfg); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("Refusal without a client certificate = %v, want the alert \"certificate required\"", err)
	}
	// The server's own certificate, offered as the client's, is accepted
	// (RequireAnyClientCert checks only that there is one).
	withCert := cfg.Clone()
	withCert.Certificates = srv.TLS.Certificates
	if err := tlstest.Refusal(addr, withCert); err != nil {
		t.Fatalf("Refusal with a client certificate = %v, want nil (accepted)", err)
	}
}
