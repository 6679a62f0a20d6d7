package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/oidctest"
	"github.com/featurevault/featurevault/policy"
)

// TestIdentityMappingCommands maps OIDC claims and a certificate with the
// CLI, lists them, sees them in policy explain and in the audit log,
// refuses bad ones in words that say what to fix, and removes them.
func TestIdentityMappingCommands(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, t.TempDir())
	cli(t, srv, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, srv, nil, "principal", "create", "churn_trainer", "--role", "trainer", "--attr", "purpose=training")
	const iss = "https://sso.example.com/realms/prod"
	for _, args := range [][]string{
		{"map-oidc", "--issuer", iss, "--claim", "sub", "--value", "6f1c2a57", "--principal", "churn_trainer"},
		{"map-oidc", "--issuer", iss, "--claim", "groups", "--value", "data-science", "--role", "trainer"},
		{"map-oidc", "--issuer", iss, "--claim", "fv_purposes", "--purposes"},
		{"map-cert", "--spiffe-id", "spiffe://example.org/ns/prod/sa/trainer", "--principal", "churn_trainer"},
	} {
		if out := cli(t, srv, nil, append([]string{"principal"}, args...)...); !strings.HasPrefix(out, "mapped ") {
			t.Errorf("principal %s printed %q", args[0], out)
		}
	}
	var ms []policy.IdentityMapping
	if err := json.Unmarshal([]byte(cli(t, srv, nil, "principal", "mappings", "-o", "json")), &ms); err != nil {
		t.Fatal(err)
	}
	if len(ms) != 4 {
		t.Fatalf("mappings = %v, want 4", ms)
	}
	explain := cli(t, srv, nil, "policy", "explain", "--principal", "churn_trainer", "--view", "customer_profile", "--purpose", "training")
	for _, want := range []string{
		`identity mapping: oidc ` + iss + ` sub="6f1c2a57" -> principal churn_trainer`,
		`identity mapping: oidc ` + iss + ` groups="data-science" -> role trainer`,
		`identity mapping: cert spiffe_id="spiffe://example.org/ns/prod/sa/trainer" -> principal churn_trainer`,
	} {
		if !strings.Contains(explain, want) {
			t.Errorf("policy explain does not show %q:\n%s", want, explain)
		}
	}
	if tail := cli(t, srv, nil, "audit", "tail", "-n", "50", "-o", "json"); !strings.Contains(tail, `"detail":"map oidc `+iss+` groups=\"data-science\" -> role trainer"`) {
		t.Errorf("the audit log does not record the mapping:\n%s", tail)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"map-oidc", "--issuer", "http://sso.example.com", "--value", "x", "--principal", "churn_trainer"}, "must use https"},
		{[]string{"map-oidc", "--issuer", iss, "--value", "6f1c2a57", "--principal", "admin"}, "already mapped"},
		{[]string{"map-oidc", "--issuer", iss, "--value", "x", "--principal", "nobody"}, "principal not found"},
		{[]string{"map-cert", "--spiffe-id", "https://x/y", "--principal", "churn_trainer"}, "not a SPIFFE ID"},
		{[]string{"map-cert", "--principal", "churn_trainer"}, "one of --spiffe-id and --subject"},
	} {
		if _, err := cliErr(t, srv, nil, append([]string{"principal"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("principal %v: err = %v, want it to say %q", tt.args, err, tt.want)
		}
	}
	cli(t, srv, nil, "principal", "unmap-oidc", "--issuer", iss, "--claim", "groups", "--value", "data-science", "--role", "trainer")
	if err := json.Unmarshal([]byte(cli(t, srv, nil, "principal", "mappings", "-o", "json")), &ms); err != nil || len(ms) != 3 {
		t.Errorf("after unmap: %v, %v; want 3 mappings", ms, err)
	}
}

// TestServeTrustsAnOIDCIssuerFromItsFlags starts serve with --oidc-issuer
// and --oidc-audience pointing at a loopback issuer, maps a subject to the
// bootstrap admin, and calls the server with the issuer's token.
func TestServeTrustsAnOIDCIssuerFromItsFlags(t *testing.T) {
	t.Parallel()
	is := oidctest.New(t)
	srv, _ := startServer(t, t.TempDir(), "--oidc-issuer", is.URL, "--oidc-audience", "fv")
	cli(t, srv, nil, "principal", "map-oidc", "--issuer", is.URL, "--value", "ops-1", "--principal", "admin")
	tok := is.Sign(t, is.Claims("ops-1", "fv"))
	if out := cli(t, srv, nil, "--token", tok, "principal", "list"); !strings.Contains(out, "admin") {
		t.Errorf("principal list with an OIDC token printed %q", out)
	}
	other := is.Sign(t, is.Claims("ops-2", "fv"))
	if _, err := cliErr(t, srv, nil, "--token", other, "principal", "list"); err == nil || !strings.Contains(err.Error(), "maps to no principal") {
		t.Errorf("an unmapped subject: err = %v, want it refused as mapping to no principal", err)
	}
	if tail := cli(t, srv, nil, "audit", "tail", "-n", "5", "-o", "json"); !strings.Contains(tail, `"auth":"oidc `+is.URL+` sub=ops-1"`) {
		t.Errorf("the audit log does not name the OIDC caller:\n%s", tail)
	}
}
