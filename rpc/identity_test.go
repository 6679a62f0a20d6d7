package rpc_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/internal/oidctest"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// setUpTrainer creates principal trainer (role reader: read on
// profile.age, purpose training) and role pii_readers (read on tag:pii),
// maps the given identities, and writes row c-42.
func setUpTrainer(t *testing.T, s *server, maps ...*fvv1.IdentityMapping) {
	t.Helper()
	ctx := t.Context()
	applySpec(t, s)
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-42")}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "trainer", Roles: []string{"reader"},
		Attributes: map[string]*fvv1.StringList{"purpose": {Values: []string{"training"}}}})); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*fvv1.Rule{
		{Role: "reader", Action: fvv1.Action_ACTION_READ, Object: "profile.age"},
		{Role: "pii_readers", Action: fvv1.Action_ACTION_READ, Object: "tag:pii"},
	} {
		if _, err := s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: r})); err != nil {
			t.Fatal(err)
		}
	}
	ids := featurevaultv1connect.NewIdentityServiceClient(http.DefaultClient, s.url, s.as(s.token, ""))
	for _, m := range maps {
		if _, err := ids.MapIdentity(ctx, connect.NewRequest(&fvv1.MapIdentityRequest{Mapping: m})); err != nil {
			t.Fatalf("MapIdentity(%v): %v", m, err)
		}
	}
}

// presentColumns reads c-42 with c and returns the columns answered.
func presentColumns(t *testing.T, c featurevaultv1connect.FeatureServiceClient) ([]string, error) {
	t.Helper()
	res, err := c.GetOnlineFeatures(t.Context(), connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-42"}}))
	if err != nil {
		return nil, err
	}
	var out []string
	for i, st := range res.Msg.Rows[0].Statuses {
		if st == fvv1.FieldStatus_FIELD_STATUS_PRESENT {
			out = append(out, res.Msg.Features[i])
		}
	}
	return out, nil
}

// auditExport returns the whole audit log as the server stores it.
func auditExport(t *testing.T, s *server) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.backend.Audit.Export(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestOIDCTokensAuthenticateAsTheirMappedPrincipalThroughTheServer(t *testing.T) {
	t.Parallel()
	is := oidctest.New(t)
	const aud = "featurevault"
	v, err := identity.NewOIDC([]identity.Issuer{{URL: is.URL, Audience: aud}}, identity.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := serveBackend(t, dir, openBackend(t, dir, quietLog), rpc.WithOIDC(v))
	setUpTrainer(t, s,
		&fvv1.IdentityMapping{Source: "oidc", Issuer: is.URL, Claim: "sub", Value: "user-1", Principal: "trainer"},
		&fvv1.IdentityMapping{Source: "oidc", Issuer: is.URL, Claim: "groups", Value: "data-science", Role: "pii_readers"},
	)
	as := func(token string) featurevaultv1connect.FeatureServiceClient {
		return featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, s.as(token, "training"))
	}
	claims := is.Claims("user-1", aud)
	claims["groups"] = []string{"data-science"}
	good := is.Sign(t, claims)
	got, err := presentColumns(t, as(good))
	if err != nil {
		t.Fatalf("read with a valid OIDC token: %v", err)
	}
	if want := []string{"age", "income", "email"}; !slices.Equal(got, want) {
		t.Errorf("columns answered = %v, want %v (trainer's age, and pii from the group role)", got, want)
	}
	noGroup := is.Sign(t, is.Claims("user-1", aud))
	if got, err := presentColumns(t, as(noGroup)); err != nil || !slices.Equal(got, []string{"age"}) {
		t.Errorf("columns answered without the group = %v, %v; want [age]", got, err)
	}

	now := time.Now()
	edit := func(f func(map[string]any)) map[string]any {
		c := is.Claims("user-1", aud)
		f(c)
		return c
	}
	refused := []struct {
		name, token string
		code        connect.Code
		msg         string
	}{
		{"expired", is.Sign(t, edit(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })), connect.CodeUnauthenticated, "expired"},
		{"not yet valid", is.Sign(t, edit(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })), connect.CodeUnauthenticated, "not valid before"},
		{"wrong audience", is.Sign(t, edit(func(c map[string]any) { c["aud"] = "other" })), connect.CodeUnauthenticated, "audience"},
		{"alg none", is.Unsigned(t, is.Claims("user-1", aud)), connect.CodeUnauthenticated, "algorithm"},
		{"HS256 with the public key", is.SignHS256WithPublicKey(t, is.Claims("user-1", aud)), connect.CodeUnauthenticated, "algorithm"},
		{"unknown kid", is.SignWith(t, is.NewKey(t), is.Claims("user-1", aud)), connect.CodeUnauthenticated, "signature"},
		{"unmapped subject", is.Sign(t, is.Claims("user-2", aud)), connect.CodePermissionDenied, "maps to no principal"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := presentColumns(t, as(tt.token))
			if connect.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("read = %v, want %v saying %q", err, tt.code, tt.msg)
			}
		})
	}
	// A token of an issuer the server does not trust is not routed to the
	// OIDC verifier at all: it is an unknown bearer token.
	other := oidctest.New(t)
	if _, err := presentColumns(t, as(other.Sign(t, other.Claims("user-1", aud)))); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("token of an untrusted issuer: %v, want Unauthenticated", err)
	}

	// Rotation at the issuer is picked up without a restart; the retired
	// key's tokens are refused from then on.
	is.Rotate(t)
	if got, err := presentColumns(t, as(is.Sign(t, claims))); err != nil || len(got) != 3 {
		t.Errorf("read with a token of the rotated key = %v, %v; want 3 columns", got, err)
	}
	if _, err := presentColumns(t, as(good)); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("read with a token of the retired key = %v, want Unauthenticated", err)
	}

	log := auditExport(t, s)
	if want := `"auth":"oidc ` + is.URL + ` sub=user-1"`; !strings.Contains(log, want) {
		t.Errorf("no audit record names the OIDC identity (%s)", want)
	}
	for _, tok := range []string{good, noGroup, s.token} {
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 16 && strings.Contains(log, part) {
				t.Errorf("the audit log holds part of a token")
			}
		}
	}
}

// issueSPIFFE issues a client certificate from ca for the SPIFFE ID id.
func (ca *testCA) issueSPIFFE(t *testing.T, id string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "workload"},
		URIs:         []*url.URL{u},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestSPIFFECertificatesAuthenticateAsTheirMappedPrincipal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "other CA")
	certFile, keyFile := writePair(t, t.TempDir(), serverCA.issue(t, "featurevault", true))
	b := openBackend(t, dir, quietLog)
	s := serveBackend(t, dir, b, rpc.WithTLS(certFile, keyFile), rpc.WithClientCAs(clientCA.pool()))
	tlsURL := "https" + strings.TrimPrefix(s.url, "http")
	adminHTTP := tlsClient(serverCA.pool(), clientCA.issue(t, "admin", false))
	s.url = tlsURL
	s.feature = featurevaultv1connect.NewFeatureServiceClient(adminHTTP, tlsURL, s.as(s.token, "analytics"))
	s.admin = featurevaultv1connect.NewAdminServiceClient(adminHTTP, tlsURL, s.as(s.token, ""))
	const trainerID = "spiffe://example.org/ns/prod/sa/trainer"
	m := &fvv1.IdentityMapping{Source: "cert", Claim: "spiffe_id", Value: trainerID, Principal: "trainer"}
	applySpec(t, s)
	if _, err := s.feature.WriteFeatures(t.Context(), connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-42")}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.CreatePrincipal(t.Context(), connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "trainer", Roles: []string{"reader"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.GrantPolicy(t.Context(), connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: &fvv1.Rule{Role: "reader", Action: fvv1.Action_ACTION_READ, Object: "profile.age"}})); err != nil {
		t.Fatal(err)
	}
	ids := featurevaultv1connect.NewIdentityServiceClient(adminHTTP, tlsURL, s.as(s.token, ""))
	if _, err := ids.MapIdentity(t.Context(), connect.NewRequest(&fvv1.MapIdentityRequest{Mapping: m})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cert    tls.Certificate
		want    []string
		code    connect.Code
		wantTLS string
	}{
		{"mapped SPIFFE ID", clientCA.issueSPIFFE(t, trainerID), []string{"age"}, 0, ""},
		{"unmapped SPIFFE ID", clientCA.issueSPIFFE(t, "spiffe://example.org/ns/prod/sa/intruder"), nil, connect.CodePermissionDenied, ""},
		{"mapped SPIFFE ID from another CA", otherCA.issueSPIFFE(t, trainerID), nil, 0, "unknown certificate authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := featurevaultv1connect.NewFeatureServiceClient(tlsClient(serverCA.pool(), tt.cert), tlsURL,
				connect.WithInterceptors(client.HeaderInterceptor(client.Headers("", "training", false))))
			got, err := presentColumns(t, c)
			switch {
			case tt.wantTLS != "":
				checkHandshakeRefused(t, tlsURL, serverCA.pool(), []tls.Certificate{tt.cert}, err, tt.wantTLS)
			case tt.code != 0:
				if connect.CodeOf(err) != tt.code {
					t.Fatalf("read = %v, want %v", err, tt.code)
				}
			case err != nil || !slices.Equal(got, tt.want):
				t.Fatalf("read = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if log := auditExport(t, s); !strings.Contains(log, `"auth":"cert `+trainerID+`"`) {
		t.Errorf("no audit record names the certificate identity %s", trainerID)
	}
}
