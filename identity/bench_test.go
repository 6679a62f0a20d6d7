package identity_test

import (
	"testing"

	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/internal/oidctest"
)

// BenchmarkOIDCVerify measures verifying one ES256 token whose key set is
// cached: what an OIDC bearer token adds to every request (tokens are not
// cached: each call checks signature and lifetime).
func BenchmarkOIDCVerify(b *testing.B) {
	is := oidctest.New(b)
	v, err := identity.NewOIDC([]identity.Issuer{{URL: is.URL, Audience: "fv"}}, identity.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	c := is.Claims("user-1", "fv")
	c["groups"] = []string{"data-science", "ml-platform"}
	tok := is.Sign(b, c)
	if _, err := v.Verify(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(b.Context(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
