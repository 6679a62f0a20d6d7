package policy_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/featurevault/featurevault/policy"
)

const testIssuer = "https://idp.example.com/realms/prod"

// idView is a view of three columns, two of them pii.
var idView = []policy.FieldRef{
	{Name: "email", Tags: []string{"pii"}},
	{Name: "income", Tags: []string{"pii"}},
	{Name: "age"},
}

func TestIdentityMappingResolvesOIDCPrincipalRolesAndPurposes(t *testing.T) {
	t.Parallel()
	profile := idView
	e, s := newEngine(t, policy.DefaultOptions())
	mustCreate(t, e, "trainer", []string{"reader"}, map[string][]string{policy.AttrPurpose: {"training", "analytics"}})
	mustSync(t, e, "customer_profile", profile)
	mustGrant(t, e,
		policy.Rule{Role: "reader", Action: policy.ActionRead, Object: "customer_profile.age"},
		policy.Rule{Role: "pii_readers", Action: policy.ActionRead, Object: "tag:pii"},
		policy.Rule{Role: "no_income", Action: policy.ActionRead, Object: "customer_profile.income", Deny: true},
	)
	for _, m := range []policy.IdentityMapping{
		{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "user-1", Principal: "trainer"},
		{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "groups", Value: "data-science", Role: "pii_readers"},
		{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "groups", Value: "contractors", Role: "no_income"},
		{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "fv_purposes", Purposes: true},
	} {
		if err := e.MapIdentity(m); err != nil {
			t.Fatalf("MapIdentity(%v): %v", m, err)
		}
	}
	claims := map[string]any{"sub": "user-1", "groups": []any{"data-science", "other"}, "fv_purposes": []any{"training"}}
	p, err := e.ResolveOIDC(testIssuer, claims)
	if err != nil {
		t.Fatalf("ResolveOIDC: %v", err)
	}
	if p.Name != "trainer" || !slices.Equal(p.IdPRoles, []string{"pii_readers"}) || !slices.Equal(p.Purposes, []string{"training"}) {
		t.Fatalf("ResolveOIDC = name %q, idp roles %v, purposes %v; want trainer, [pii_readers], [training]", p.Name, p.IdPRoles, p.Purposes)
	}
	allowed := func(p policy.Principal, purpose string) []string {
		t.Helper()
		d, err := e.Decide(p, "customer_profile", profile, policy.ActionRead, purpose, "prod")
		if err != nil {
			t.Fatalf("Decide(%s): %v", purpose, err)
		}
		var out []string
		for i, ok := range d.Allowed {
			if ok {
				out = append(out, profile[i].Name)
			}
		}
		return out
	}
	if got, want := allowed(p, "training"), []string{"email", "income", "age"}; !slices.Equal(got, want) {
		t.Errorf("allowed with the group role = %v, want %v", got, want)
	}
	// The token's purposes claim narrows the principal's attribute.
	if _, err := e.Decide(p, "customer_profile", profile, policy.ActionRead, "analytics", "prod"); !errors.Is(err, policy.ErrPurposeNotAllowed) {
		t.Errorf("Decide(analytics) with a token listing only training: err = %v, want ErrPurposeNotAllowed", err)
	}
	// Another group adds a deny that beats the allow of pii_readers.
	claims["groups"] = []any{"data-science", "contractors"}
	p2, err := e.ResolveOIDC(testIssuer, claims)
	if err != nil {
		t.Fatalf("ResolveOIDC: %v", err)
	}
	if got, want := allowed(p2, "training"), []string{"email", "age"}; !slices.Equal(got, want) {
		t.Errorf("allowed with a deny group = %v, want %v", got, want)
	}
	// Without group roles: only the principal's own.
	delete(claims, "groups")
	p3, err := e.ResolveOIDC(testIssuer, claims)
	if err != nil {
		t.Fatalf("ResolveOIDC: %v", err)
	}
	if got, want := allowed(p3, "training"), []string{"age"}; !slices.Equal(got, want) {
		t.Errorf("allowed without groups = %v, want %v", got, want)
	}
	// No purposes claim: no purpose may be stated.
	delete(claims, "fv_purposes")
	p4, _ := e.ResolveOIDC(testIssuer, claims)
	if _, err := e.Decide(p4, "customer_profile", profile, policy.ActionRead, "training", "prod"); !errors.Is(err, policy.ErrPurposeNotAllowed) {
		t.Errorf("Decide with a token without the purposes claim: err = %v, want ErrPurposeNotAllowed", err)
	}

	// Mappings persist: a reopened engine resolves the same way.
	e2, err := policy.Open(s, policy.DefaultOptions())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if got, want := len(e2.ListIdentityMappings()), 4; got != want {
		t.Fatalf("reopened engine lists %d mappings, want %d", got, want)
	}
	if p, err := e2.ResolveOIDC(testIssuer, map[string]any{"sub": "user-1"}); err != nil || p.Name != "trainer" {
		t.Errorf("reopened ResolveOIDC = %q, %v; want trainer", p.Name, err)
	}
}

func TestIdentityMappingRefusesUnmappedAmbiguousAndOtherIssuers(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustCreate(t, e, "a", nil, nil)
	mustCreate(t, e, "b", nil, nil)
	for _, m := range []policy.IdentityMapping{
		{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "u1", Principal: "a"},
		{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "email", Value: "u1@example.com", Principal: "b"},
	} {
		if err := e.MapIdentity(m); err != nil {
			t.Fatalf("MapIdentity: %v", err)
		}
	}
	tests := []struct {
		name   string
		issuer string
		claims map[string]any
		want   error
	}{
		{"unmapped subject", testIssuer, map[string]any{"sub": "u2"}, policy.ErrUnmappedIdentity},
		{"same subject from another issuer", "https://other.example.com", map[string]any{"sub": "u1"}, policy.ErrUnmappedIdentity},
		{"two principals", testIssuer, map[string]any{"sub": "u1", "email": "u1@example.com"}, policy.ErrUnmappedIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.ResolveOIDC(tt.issuer, tt.claims); !errors.Is(err, tt.want) {
				t.Errorf("ResolveOIDC: err = %v, want %v", err, tt.want)
			}
		})
	}
	if err := e.RevokePrincipal("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ResolveOIDC(testIssuer, map[string]any{"sub": "u1"}); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("ResolveOIDC for a revoked principal: err = %v, want ErrUnauthenticated", err)
	}
}

func TestIdentityMappingCertificates(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustCreate(t, e, "trainer", nil, nil)
	mustCreate(t, e, "legacy", nil, nil)
	if err := e.MapIdentity(policy.IdentityMapping{Source: policy.SourceCert, Claim: policy.CertClaimSPIFFE, Value: "spiffe://example.org/ns/prod/sa/trainer", Principal: "trainer"}); err != nil {
		t.Fatal(err)
	}
	if err := e.MapIdentity(policy.IdentityMapping{Source: policy.SourceCert, Claim: policy.CertClaimSubject, Value: "CN=legacy-job,O=Example", Principal: "legacy"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spiffe, subject, want string
		err                   error
	}{
		{"spiffe://example.org/ns/prod/sa/trainer", "CN=x", "trainer", nil},
		{"", "CN=legacy-job,O=Example", "legacy", nil},
		{"spiffe://example.org/ns/prod/sa/other", "CN=legacy-job,O=Example", "legacy", nil},
		{"spiffe://example.org/ns/prod/sa/other", "CN=other", "", policy.ErrUnmappedIdentity},
	}
	for _, tt := range tests {
		p, err := e.ResolveCert(tt.spiffe, tt.subject)
		if !errors.Is(err, tt.err) || p.Name != tt.want {
			t.Errorf("ResolveCert(%q, %q) = %q, %v; want %q, %v", tt.spiffe, tt.subject, p.Name, err, tt.want, tt.err)
		}
	}
}

func TestIdentityMappingRefusesBadMappingsAndChangesNothing(t *testing.T) {
	t.Parallel()
	e, s := newEngine(t, policy.DefaultOptions())
	mustCreate(t, e, "p", nil, nil)
	ok := policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "v", Principal: "p"}
	mustCreate(t, e, "admin2", nil, nil)
	if err := e.MapIdentity(ok); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		m    policy.IdentityMapping
		want error
	}{
		{"no target", policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "v"}, policy.ErrInvalidMapping},
		{"two targets", policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "v", Principal: "p", Role: "r"}, policy.ErrInvalidMapping},
		{"plain http issuer", policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: "http://idp.example.com", Claim: "sub", Value: "v", Principal: "p"}, policy.ErrInvalidMapping},
		{"claim with a space", policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "a b", Value: "v", Principal: "p"}, policy.ErrInvalidMapping},
		{"not a SPIFFE ID", policy.IdentityMapping{Source: policy.SourceCert, Claim: policy.CertClaimSPIFFE, Value: "https://x/y", Principal: "p"}, policy.ErrInvalidMapping},
		{"certificate role", policy.IdentityMapping{Source: policy.SourceCert, Claim: policy.CertClaimSubject, Value: "CN=x", Role: "r"}, policy.ErrInvalidMapping},
		{"unknown principal", policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "w", Principal: "nobody"}, policy.ErrPrincipalNotFound},
		{"value mapped elsewhere", policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "v", Principal: "admin2"}, policy.ErrMappingExists},
		{"unmap absent", policy.IdentityMapping{Source: policy.SourceOIDC, Issuer: testIssuer, Claim: "sub", Value: "zz", Principal: "p"}, policy.ErrMappingNotFound},
	}
	before := dump(t, s, "p/")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.want == policy.ErrMappingNotFound {
				err = e.UnmapIdentity(tt.m)
			} else {
				err = e.MapIdentity(tt.m)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if after := dump(t, s, "p/"); !slices.Equal(before, after) {
		t.Errorf("refused mappings changed the store:\nbefore %v\nafter  %v", before, after)
	}
	if err := e.UnmapIdentity(ok); err != nil {
		t.Fatalf("UnmapIdentity: %v", err)
	}
	if got := e.ListIdentityMappings(); len(got) != 0 {
		t.Errorf("after unmap: %v, want none", got)
	}
}
