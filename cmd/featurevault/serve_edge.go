package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/rpc"
)

// Defaults of serve's stream limits. The rpc library sets none by
// default; the server a person runs does.
const (
	defaultMaxStreamDuration      = time.Hour
	defaultMaxStreamsPerPrincipal = 32
)

// serveEdge holds the flags of serve that shape how the server meets the
// network: a development TLS certificate, client certificates, CORS and
// the limits on streams.
type serveEdge struct {
	tlsSelfSigned          bool
	tlsClientCA            string
	corsOrigins            []string
	maxStreamDuration      time.Duration
	maxStreamsPerPrincipal int
}

// addFlags defines e's flags on serve.
func (e *serveEdge) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&e.tlsSelfSigned, "tls-self-signed", false, "serve TLS with a self-signed certificate for the listen host, kept in DIR/tls/ (development only: clients must trust DIR/tls/cert.pem)")
	f.StringVar(&e.tlsClientCA, "tls-client-ca", "", "PEM bundle of CAs: require every client to present a certificate they signed (mutual TLS); a request without a bearer token then authenticates as the principal its certificate maps to (featurevault principal map-cert)")
	f.StringArrayVar(&e.corsOrigins, "cors-origin", nil, "let scripts of web pages from this exact origin (e.g. https://app.example.com) call the server from a browser with Connect or gRPC-Web; repeat for more (default: none)")
	f.DurationVar(&e.maxStreamDuration, "max-stream-duration", defaultMaxStreamDuration, "cut any data stream (ReadBatches, GetHistoricalFeatures, IngestArrow) still open after this long (admin streams such as backup and rewrap are exempt); 0: no limit")
	f.IntVar(&e.maxStreamsPerPrincipal, "max-streams-per-principal", defaultMaxStreamsPerPrincipal, "streams one principal may have open at once; 0: no limit")
}

// check refuses bad edge flags before serve touches the data directory,
// and returns the client CA pool of --tls-client-ca (nil without it).
func (e *serveEdge) check(certGiven bool) (*x509.CertPool, error) {
	if e.tlsSelfSigned && certGiven {
		return nil, errors.New("--tls-self-signed makes its own certificate: drop it, or drop --tls-cert and --tls-key")
	}
	for _, o := range e.corsOrigins {
		if err := rpc.CheckCORSOrigin(o); err != nil {
			return nil, fmt.Errorf("--cors-origin: %w", err)
		}
	}
	if e.maxStreamDuration < 0 || e.maxStreamDuration > 0 && e.maxStreamDuration < time.Second {
		return nil, fmt.Errorf("--max-stream-duration %s: give at least 1s (e.g. 1h), or 0 for no limit", e.maxStreamDuration)
	}
	if e.maxStreamsPerPrincipal < 0 {
		return nil, fmt.Errorf("--max-streams-per-principal %d: give a positive number, or 0 for no limit", e.maxStreamsPerPrincipal)
	}
	if e.tlsClientCA == "" {
		return nil, nil
	}
	if !certGiven && !e.tlsSelfSigned {
		return nil, errors.New("--tls-client-ca needs TLS: give --tls-cert and --tls-key (or --tls-self-signed) too")
	}
	pool, err := rpc.LoadCertPool(e.tlsClientCA)
	if err != nil {
		return nil, fmt.Errorf("--tls-client-ca %s: %w", e.tlsClientCA, err)
	}
	return pool, nil
}

// options returns the server options of e's flags.
func (e *serveEdge) options(clientCAs *x509.CertPool) []rpc.Option {
	opts := []rpc.Option{
		rpc.WithMaxStreamDuration(e.maxStreamDuration),
		rpc.WithMaxStreamsPerPrincipal(e.maxStreamsPerPrincipal),
	}
	if clientCAs != nil {
		opts = append(opts, rpc.WithClientCAs(clientCAs))
	}
	if len(e.corsOrigins) > 0 {
		opts = append(opts, rpc.WithCORS(e.corsOrigins...))
	}
	return opts
}

// selfSignedTLS makes or reuses the development certificate in dataDir
// for listen and says loudly, on stdout and in the log, that it is for
// development only, where its PEM is and what its fingerprint is, so a
// person can tell a client to trust it. It returns the certificate's
// and key's files.
func selfSignedTLS(dataDir, listen string, stdout io.Writer, logger *slog.Logger) (certFile, keyFile string, err error) {
	c, err := loadOrMakeDevCert(dataDir, devCertHosts(listen), time.Now())
	if err != nil {
		return "", "", err
	}
	how := "reused"
	if c.created {
		how = "created"
	}
	fp := c.fingerprint()
	logger.Warn("serving TLS with a self-signed certificate: for development only", "certificate", c.certFile, "sha256", fp, "hosts", c.leaf.DNSNames, "ips", fmt.Sprint(c.leaf.IPAddresses), "expires", c.leaf.NotAfter.Format(time.DateOnly), "how", how)
	fmt.Fprintf(stdout, "WARNING: serving TLS with a self-signed certificate (%s): for development only, never in production\n", how)
	fmt.Fprintf(stdout, "TLS certificate: %s (clients trust it with e.g. SSL_CERT_FILE=%s or curl --cacert %s)\n", c.certFile, c.certFile, c.certFile)
	fmt.Fprintf(stdout, "TLS certificate SHA-256 fingerprint: %s\n", fp)
	return c.certFile, c.keyFile, nil
}
