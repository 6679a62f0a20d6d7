package main

import (
	"slices"
	"strings"
	"testing"
)

func TestServeIdentityFlagsFromTheConfigFilePairIssuersWithAudiences(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
oidc-issuer: [https://sso.example.com/realms/prod, https://example.okta.com/oauth2/default]
oidc-audience: [featurevault, api://featurevault]
oidc-clock-skew: 1m
audit-checkpoint-every: 500
`)
	cmd := newServeCmd(noEnv)
	if err := applyConfigFile(cmd, path); err != nil {
		t.Fatal(err)
	}
	f := cmd.Flags()
	issuers, _ := f.GetStringArray("oidc-issuer")
	auds, _ := f.GetStringArray("oidc-audience")
	if !slices.Equal(issuers, []string{"https://sso.example.com/realms/prod", "https://example.okta.com/oauth2/default"}) || !slices.Equal(auds, []string{"featurevault", "api://featurevault"}) {
		t.Fatalf("issuers %v, audiences %v", issuers, auds)
	}
	s := serveIdentity{oidcIssuers: issuers, oidcAudiences: auds, oidcClockSkew: 60e9, checkpointEvery: 500}
	if opts, err := s.options(); err != nil || len(opts) != 2 {
		t.Errorf("options() = %d options, %v; want the checkpoint and OIDC options", len(opts), err)
	}
}

func TestServeIdentityFlagsRefuseBadSetups(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    serveIdentity
		want string
	}{
		{"audience missing", serveIdentity{oidcIssuers: []string{"https://a.example.com"}}, "one audience per issuer"},
		{"plain http", serveIdentity{oidcIssuers: []string{"http://a.example.com"}, oidcAudiences: []string{"x"}}, "https"},
		{"skew too large", serveIdentity{oidcIssuers: []string{"https://a.example.com"}, oidcAudiences: []string{"x"}, oidcClockSkew: 3600e9}, "clock skew"},
		{"tiny checkpoint interval", serveIdentity{checkpointInterval: 1e6}, "--audit-checkpoint-interval"},
	}
	for _, tt := range tests {
		if _, err := tt.s.options(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to say %q", tt.name, err, tt.want)
		}
	}
}
