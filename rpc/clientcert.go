package rpc

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// WithClientCAs makes the server require a client certificate signed by
// one of pool's CAs in every TLS handshake (tls.RequireAndVerifyClientCert):
// a client without one, or with one from another CA, is refused before it
// sends a request. It needs WithTLS; Serve refuses it otherwise.
//
// Client certificates are first a transport gate: stealing a token is not
// enough to call the server from a machine without a certificate. A
// request that carries a bearer token is authenticated by the token, which
// names the principal (the audit record notes the certificate too); a
// request without one is authenticated by its certificate, whose SPIFFE ID
// or subject must map to a principal (policy.IdentityMapping, `featurevault
// principal map-cert`): a certificate with no mapping gets no access.
func WithClientCAs(pool *x509.CertPool) Option {
	return func(c *config) { c.edge.clientCAs = pool }
}

// errClientCAsWithoutTLS refuses client certificates on a plaintext server.
var errClientCAsWithoutTLS = errors.New("rpc: client certificates need TLS: give --tls-cert and --tls-key (or --tls-self-signed) with --tls-client-ca")

// applyClientCAs sets tc to require and verify client certificates when
// the server has client CAs.
func (e edgeConfig) applyClientCAs(tc *tls.Config) {
	if e.clientCAs != nil {
		tc.ClientCAs = e.clientCAs
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
}

// LoadCertPool reads a PEM bundle of CA certificates from file. It fails,
// naming the file and what to fix, when the file cannot be read, holds no
// CERTIFICATE block, or holds one that does not parse.
func LoadCertPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file) // #nosec G304 -- the operator names the CA bundle (--tls-client-ca)
	if err != nil {
		return nil, fmt.Errorf("rpc: read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		n++
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("rpc: CA bundle %s: certificate %d does not parse: %w", file, n, err)
		}
		pool.AddCert(c)
	}
	if n == 0 {
		return nil, fmt.Errorf("rpc: CA bundle %s holds no PEM CERTIFICATE block; give the CA certificates that sign your clients' certificates, in PEM", file)
	}
	return pool, nil
}
