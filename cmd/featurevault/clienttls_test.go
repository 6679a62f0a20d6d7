package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/tlstest"
)

// writeClientPKI writes a CA and a client certificate it signed to dir and
// returns the three PEM files.
func writeClientPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "trainer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("client.pem", "CERTIFICATE", der), write("client-key.pem", "PRIVATE KEY", keyDER)
}

// TestClientCommandsReachAServerThatRequiresClientCertificates serves
// with a self-signed certificate and --tls-client-ca: a client command
// trusting the server's certificate (--tls-ca) and presenting a client
// certificate (--tls-client-cert, --tls-client-key) gets through; without
// the client certificate the handshake is refused; bad combinations of the
// flags are refused before any call, saying what to fix.
func TestClientCommandsReachAServerThatRequiresClientCertificates(t *testing.T) {
	t.Parallel()
	dir, pki := t.TempDir(), t.TempDir()
	caFile, certFile, keyFile := writeClientPKI(t, pki)
	_, url, _ := serveOut(t, dir, "--tls-self-signed", "--tls-client-ca", caFile)
	srv := testServer{url: url, dir: dir}
	serverCert := filepath.Join(dir, "tls", "cert.pem")

	if _, err := cliErr(t, srv, nil, "views", "list", "--tls-ca", serverCert, "--tls-client-cert", certFile, "--tls-client-key", keyFile); err != nil {
		t.Fatalf("views list with the client certificate: %v", err)
	}
	for _, c := range []struct {
		name string
		srv  testServer
		args []string
		want string
	}{
		{"no client certificate", srv, []string{"--tls-ca", serverCert}, "certificate required"},
		{"server certificate not trusted", srv, []string{"--tls-client-cert", certFile, "--tls-client-key", keyFile}, "certificate signed by unknown authority"},
		{"certificate without key", srv, []string{"--tls-ca", serverCert, "--tls-client-cert", certFile}, "--tls-client-cert and --tls-client-key go together"},
		{"unreadable CA", srv, []string{"--tls-ca", filepath.Join(pki, "missing.pem")}, "--tls-ca: "},
		{"key that is not the certificate's", srv, []string{"--tls-ca", serverCert, "--tls-client-cert", certFile, "--tls-client-key", caFile}, "--tls-client-cert " + certFile},
		{"TLS flags for a plaintext server", testServer{url: "http://127.0.0.1:1", dir: dir}, []string{"--tls-ca", serverCert}, "are for an https:// server"},
	} {
		_, err := cliErr(t, c.srv, nil, append([]string{"views", "list"}, c.args...)...)
		switch {
		case err == nil:
			t.Errorf("%s: views list succeeded, want an error containing %q", c.name, c.want)
		case strings.Contains(err.Error(), c.want):
		case c.want == "certificate required":
			// The CLI may have lost the TLS 1.3 race (tlstest.Refusal) and
			// seen the closed connection instead of the alert: the server
			// must still be refusing with it.
			roots := x509.NewCertPool()
			pemBytes, rerr := os.ReadFile(serverCert) // #nosec G304 -- the test's own file
			if rerr != nil || !roots.AppendCertsFromPEM(pemBytes) {
				t.Fatalf("read %s: %v", serverCert, rerr)
			}
			cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12, ServerName: "127.0.0.1"}
			if herr := tlstest.Refusal(strings.TrimPrefix(url, "https://"), cfg); herr == nil || !strings.Contains(herr.Error(), c.want) {
				t.Errorf("%s: views list = %v and a handshake = %v, want the alert %q", c.name, err, herr, c.want)
			}
		default:
			t.Errorf("%s: views list = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
