package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Where --tls-self-signed keeps its certificate: DIR/tls/cert.pem and
// DIR/tls/key.pem (mode 0600, in a 0700 directory).
const (
	devCertDir  = "tls"
	devCertFile = "cert.pem"
	devKeyFile  = "key.pem"
)

// devCertLifetime is how long a development certificate is valid;
// devCertRenewBefore is how close to its end serve replaces it.
const (
	devCertLifetime    = 90 * 24 * time.Hour
	devCertRenewBefore = 7 * 24 * time.Hour
)

// devCert is the self-signed development certificate serve uses with
// --tls-self-signed.
type devCert struct {
	certFile, keyFile string
	leaf              *x509.Certificate
	created           bool // made on this start rather than reused
}

// fingerprint is the SHA-256 fingerprint of the certificate, written as
// openssl x509 -fingerprint -sha256 does, for a person to compare.
func (c *devCert) fingerprint() string {
	var b strings.Builder
	for i, x := range sha256.Sum256(c.leaf.Raw) {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// devCertHosts are the names a development certificate for listen is
// valid for: localhost and the loopback addresses, the listen host, and
// the machine's host name when listen names every interface.
func devCertHosts(listen string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return hosts
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = ""
		}
	}
	if host != "" && host != "localhost" && !(net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()) {
		hosts = append(hosts, host)
	}
	return hosts
}

// loadOrMakeDevCert returns the development certificate in dataDir/tls/
// when it is valid for every host and for a week more, and otherwise
// makes a new one (ECDSA P-256, self-signed, valid 90 days) and writes it
// there. The key stays in the data directory beside the development KMS
// key, which guards far more: anyone who can read the directory already
// holds the data's keys. It is never logged or printed.
func loadOrMakeDevCert(dataDir string, hosts []string, now time.Time) (*devCert, error) {
	dir := filepath.Join(dataDir, devCertDir)
	c := &devCert{certFile: filepath.Join(dir, devCertFile), keyFile: filepath.Join(dir, devKeyFile)}
	if leaf, ok := reusableDevCert(c.certFile, c.keyFile, hosts, now); ok {
		c.leaf = leaf
		return c, nil
	}
	certPEM, keyPEM, leaf, err := makeDevCert(hosts, now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--tls-self-signed: create %s: %w", dir, err)
	}
	if err := writePrivateFile(c.keyFile, keyPEM); err != nil {
		return nil, fmt.Errorf("--tls-self-signed: write the key: %w", err)
	}
	if err := writePrivateFile(c.certFile, certPEM); err != nil {
		return nil, fmt.Errorf("--tls-self-signed: write the certificate: %w", err)
	}
	c.leaf, c.created = leaf, true
	return c, nil
}

// reusableDevCert reports whether the pair in certFile and keyFile
// matches, names every host and stays valid for devCertRenewBefore.
func reusableDevCert(certFile, keyFile string, hosts []string, now time.Time) (*x509.Certificate, bool) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || len(pair.Certificate) == 0 {
		return nil, false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(devCertRenewBefore).After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return nil, false
		}
	}
	return leaf, true
}

// makeDevCert makes a self-signed ECDSA P-256 certificate for hosts and
// returns it and its key in PEM.
func makeDevCert(hosts []string, now time.Time) (certPEM, keyPEM []byte, leaf *x509.Certificate, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--tls-self-signed: generate a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--tls-self-signed: serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "FeatureVault development server", Organization: []string{"FeatureVault (self-signed, development only)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(devCertLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that clients can trust it as its own root
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--tls-self-signed: create the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--tls-self-signed: encode the key: %w", err)
	}
	leaf, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), leaf, nil
}

// writePrivateFile writes data to path with mode 0600 through a temporary
// file and a rename, so a crash leaves the old file or the new one.
func writePrivateFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
