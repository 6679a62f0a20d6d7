package identity_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"testing"

	"github.com/featurevault/featurevault/identity"
)

func TestFromCertificateReadsOneSPIFFEIDElseTheSubject(t *testing.T) {
	t.Parallel()
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	subject := pkix.Name{CommonName: "trainer", Organization: []string{"Example"}}
	tests := []struct {
		name       string
		uris       []*url.URL
		wantSPIFFE string
		wantString string
	}{
		{"one SPIFFE ID", []*url.URL{u("spiffe://example.org/ns/prod/sa/trainer")}, "spiffe://example.org/ns/prod/sa/trainer", "spiffe://example.org/ns/prod/sa/trainer"},
		{"SPIFFE ID beside an https URI", []*url.URL{u("https://example.org/x"), u("spiffe://example.org/a")}, "spiffe://example.org/a", "spiffe://example.org/a"},
		{"two SPIFFE IDs: not an SVID", []*url.URL{u("spiffe://example.org/a"), u("spiffe://example.org/b")}, "", "subject=CN=trainer,O=Example"},
		{"invalid SPIFFE ID", []*url.URL{u("spiffe://Example.org/a/../b")}, "", "subject=CN=trainer,O=Example"},
		{"no URI", nil, "", "subject=CN=trainer,O=Example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := identity.FromCertificate(&x509.Certificate{Subject: subject, URIs: tt.uris})
			if id.SPIFFEID != tt.wantSPIFFE || id.String() != tt.wantString {
				t.Errorf("FromCertificate = %q (%q), want %q (%q)", id.SPIFFEID, id.String(), tt.wantSPIFFE, tt.wantString)
			}
		})
	}
}
