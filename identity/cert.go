package identity

import (
	"crypto/x509"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// CertIdentity is who a verified client certificate says its holder is.
type CertIdentity struct {
	// SPIFFEID is the certificate's SPIFFE ID (its one spiffe:// URI SAN,
	// as go-spiffe prints it), or "" when it has none or several (a SPIFFE
	// SVID has exactly one).
	SPIFFEID string
	// Subject is the subject distinguished name as pkix.Name.String
	// prints it, e.g. "CN=trainer,O=Example".
	Subject string
}

// String names the identity for an audit record: the SPIFFE ID when there
// is one, else "subject=" and the subject.
func (c CertIdentity) String() string {
	if c.SPIFFEID != "" {
		return c.SPIFFEID
	}
	return "subject=" + c.Subject
}

// FromCertificate reads the identity of leaf, a client certificate the TLS
// handshake verified against the server's client CAs. It verifies nothing
// itself: never call it on a certificate that was not verified.
func FromCertificate(leaf *x509.Certificate) CertIdentity {
	id := CertIdentity{Subject: leaf.Subject.String()}
	var found []string
	for _, u := range leaf.URIs {
		if u.Scheme != "spiffe" {
			continue
		}
		s, err := spiffeid.FromURI(u)
		if err != nil {
			continue
		}
		found = append(found, s.String())
	}
	if len(found) == 1 {
		id.SPIFFEID = found[0]
	}
	return id
}
