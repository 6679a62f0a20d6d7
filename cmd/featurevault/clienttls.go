package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/featurevault/featurevault/rpc"
)

// clientTLS holds the TLS flags of the client commands.
type clientTLS struct {
	ca         string // --tls-ca: PEM bundle the server's certificate must chain to
	clientCert string // --tls-client-cert: presented to a server started with --tls-client-ca
	clientKey  string // --tls-client-key
	applied    bool
}

// set reports whether any TLS flag was given.
func (t *clientTLS) set() bool { return t.ca != "" || t.clientCert != "" || t.clientKey != "" }

// configureTLS sets up c.http for an https:// server from the TLS flags,
// once. Without flags the system's roots are trusted (and SSL_CERT_FILE is
// honoured), as before. The flags make no sense for http://, so they are
// refused there rather than silently ignored.
func (c *client) configureTLS(scheme string) error {
	t := &c.tls
	if t.applied || !t.set() {
		return nil
	}
	if scheme != "https" {
		return fmt.Errorf("--tls-ca, --tls-client-cert and --tls-client-key are for an https:// server, but --server is %s://; use the https:// URL serve printed", scheme)
	}
	if (t.clientCert == "") != (t.clientKey == "") {
		return errors.New("--tls-client-cert and --tls-client-key go together; give both or neither")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ca != "" {
		pool, err := rpc.LoadCertPool(t.ca)
		if err != nil {
			return fmt.Errorf("--tls-ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	if t.clientCert != "" {
		cert, err := tls.LoadX509KeyPair(t.clientCert, t.clientKey)
		if err != nil {
			return fmt.Errorf("--tls-client-cert %s and --tls-client-key %s: %w", t.clientCert, t.clientKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	c.http.Transport = &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, Proxy: http.ProxyFromEnvironment}
	t.applied = true
	return nil
}
