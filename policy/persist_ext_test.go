package policy_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/policy"
)

// snapshot is everything observable about an engine's policy.
func snapshot(t *testing.T, e *policy.Engine, ps map[string]policy.Principal) string {
	t.Helper()
	out := fmt.Sprintln(e.ListRules(), e.ListRoleInheritance())
	for _, p := range e.ListPrincipals() {
		out += fmt.Sprintln(p.Name, p.Roles, p.Attrs, p.Revoked, p.CreatedAt.UTC())
	}
	for _, name := range []string{"alice", "bob", "carol", "gina"} {
		for _, view := range slices.Sorted(maps.Keys(matrixViews)) {
			fields := matrixViews[view]
			x, err := e.Explain(ps[name], view, fields, matrixPrincipals[name].attrs["purpose"][0], "prod")
			if err != nil {
				t.Fatalf("Explain(%s, %s): %v", name, view, err)
			}
			for _, f := range x.Fields {
				for _, v := range f.Verdicts {
					out += fmt.Sprintln(name, view, f.Field, v.Action, v.Allowed, v.Rule)
				}
			}
		}
	}
	return out
}

func TestPolicySurvivesReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := jwtKeyset(t)
	opts := policy.DefaultOptions().WithJWTKeyset(h)

	s, err := kv.OpenBadger(kv.DefaultOptions(dir))
	if err != nil {
		t.Fatalf("OpenBadger: %v", err)
	}
	e, err := policy.Open(s, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for view, fields := range matrixViews {
		mustSync(t, e, view, fields)
	}
	mustGrant(t, e, matrixRules...)
	if err := e.AddRoleInheritance("senior_analyst", "analyst"); err != nil {
		t.Fatalf("AddRoleInheritance: %v", err)
	}
	tokens := map[string]string{}
	ps := map[string]policy.Principal{}
	for name, mp := range matrixPrincipals {
		ps[name], tokens[name] = mustCreate(t, e, name, mp.roles, mp.attrs)
	}
	jwtTok, err := e.IssueJWT("carol", time.Hour)
	if err != nil {
		t.Fatalf("IssueJWT: %v", err)
	}
	if err := e.RevokePrincipal("hank"); err != nil {
		t.Fatalf("RevokePrincipal: %v", err)
	}
	if err := e.UnassignRole("dave", "writer"); err != nil {
		t.Fatalf("UnassignRole: %v", err)
	}
	before := snapshot(t, e, ps)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2, err := kv.OpenBadger(kv.DefaultOptions(dir))
	if err != nil {
		t.Fatalf("reopen Badger: %v", err)
	}
	t.Cleanup(func() { s2.Close() })
	e2, err := policy.Open(s2, opts)
	if err != nil {
		t.Fatalf("reopen policy: %v", err)
	}
	if after := snapshot(t, e2, ps); after != before {
		t.Errorf("policy after reopen differs:\n got %s\nwant %s", after, before)
	}
	for name, tok := range tokens {
		p, err := e2.Authenticate(tok)
		switch {
		case name == "hank":
			if !errors.Is(err, policy.ErrUnauthenticated) {
				t.Errorf("Authenticate(revoked hank) after reopen = %v, want ErrUnauthenticated", err)
			}
		case err != nil || p.Name != name:
			t.Errorf("Authenticate(%s) after reopen = %q, %v", name, p.Name, err)
		}
	}
	if p, err := e2.Authenticate(jwtTok); err != nil || p.Name != "carol" {
		t.Errorf("Authenticate(JWT) after reopen = %q, %v; want carol", p.Name, err)
	}
	if tok, err := e2.EnsureBootstrapAdmin(); err != nil || tok != "" {
		t.Errorf("EnsureBootstrapAdmin after reopen = %q, %v; want no new admin", tok, err)
	}
}

// TestAdapterWithPlainCasbin drives the adapter through Casbin's own
// auto-save, as a migration tool would.
func TestAdapterWithPlainCasbin(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a := policy.NewAdapter(s)
	newEnforcer := func() *casbin.Enforcer {
		m, err := model.NewModelFromString(policy.ModelText())
		if err != nil {
			t.Fatalf("model: %v", err)
		}
		e, err := casbin.NewEnforcer(m, a)
		if err != nil {
			t.Fatalf("NewEnforcer: %v", err)
		}
		return e
	}
	e := newEnforcer()
	rules := [][]string{
		{"analyst", "v.*", "read", "*", "*", "allow"},
		{"analyst", "tag:pii", "read", "*", "*", "deny"},
		{"writer", "v.f", "write", "*", "prod", "allow"},
	}
	if _, err := e.AddPolicies(rules); err != nil {
		t.Fatalf("AddPolicies: %v", err)
	}
	if _, err := e.AddNamedGroupingPolicy("g2", "v.f", "tag:pii"); err != nil {
		t.Fatalf("AddNamedGroupingPolicy: %v", err)
	}
	if _, err := e.AddGroupingPolicy("user:alice", "analyst"); err != nil {
		t.Fatalf("AddGroupingPolicy: %v", err)
	}
	// A hostile rule is refused by the adapter and so never reaches the
	// model either.
	if _, err := e.AddPolicy("analyst", "v.f", "read", "*", "*", "allow\np, mallory, *, read, *, *, allow"); err == nil {
		t.Errorf("AddPolicy(hostile effect) succeeded")
	}
	if _, err := e.AddPolicy("a,b", "v.f", "read", "*", "*", "allow"); !errors.Is(err, policy.ErrInvalidName) {
		t.Errorf("AddPolicy(role a,b) = %v, want ErrInvalidName", err)
	}

	got := func(e *casbin.Enforcer) string {
		p, _ := e.GetPolicy()
		g, _ := e.GetGroupingPolicy()
		g2, _ := e.GetNamedGroupingPolicy("g2")
		slices.SortFunc(p, slices.Compare)
		return fmt.Sprint(p, g, g2)
	}
	if a, b := got(newEnforcer()), got(e); a != b {
		t.Errorf("reloaded policy = %s, want %s", a, b)
	}

	if _, err := e.RemoveFilteredPolicy(0, "analyst"); err != nil {
		t.Fatalf("RemoveFilteredPolicy: %v", err)
	}
	want := "[[writer v.f write * prod allow]] [[user:alice analyst]] [[v.f tag:pii]]"
	if g := got(newEnforcer()); g != want {
		t.Errorf("after RemoveFilteredPolicy: stored %s, want %s", g, want)
	}
	if _, err := e.RemovePolicy("writer", "v.f", "write", "*", "prod", "allow"); err != nil {
		t.Fatalf("RemovePolicy: %v", err)
	}
	if _, err := e.AddPolicy("ops", "*", "admin", "*", "*", "allow"); err != nil {
		t.Fatalf("AddPolicy: %v", err)
	}
	if err := e.SavePolicy(); err != nil {
		t.Fatalf("SavePolicy: %v", err)
	}
	want = "[[ops * admin * * allow]] [[user:alice analyst]] [[v.f tag:pii]]"
	if g := got(newEnforcer()); g != want {
		t.Errorf("after SavePolicy: stored %s, want %s", g, want)
	}
}

// TestOpenRefusesDamagedPolicy writes rules behind the engine's back: a
// rule with a hostile name, and one whose key and value disagree. Open
// fails rather than enforce a policy it did not write.
func TestOpenRefusesDamagedPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		key   string
		value string
	}{
		{"hostile name", "p/rule/p,a\nb,*,read,*,*,allow", `["p","a\nb","*","read","*","*","allow"]`},
		{"key and value disagree", "p/rule/p,viewer,v.f,read,*,*,deny", `["p","viewer","v.f","read","*","*","allow"]`},
		{"not JSON", "p/rule/p,viewer,v.f,read,*,*,allow", `p, viewer, v.f, read, *, *, allow`},
		{"unknown type", "p/rule/g3,a,b", `["g3","a","b"]`},
		{"principal under another key", "p/principal/alice", `{"name":"admin","id":"00"}`},
		{"principal with bad attribute", "p/principal/alice", `{"name":"alice","id":"00","attrs":{"purpose":["a,b"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if err := s.Apply([]kv.Op{{Key: []byte(tt.key), Value: []byte(tt.value)}}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if _, err := policy.Open(s, policy.DefaultOptions()); !errors.Is(err, policy.ErrStoreDamaged) {
				t.Errorf("Open = %v, want ErrStoreDamaged", err)
			}
		})
	}
}

// TestOrphanTokenIndexGrantsNothing: a token index entry that the
// principal's record does not list (written behind the engine's back) does
// not authenticate.
func TestOrphanTokenIndexGrantsNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e, err := policy.Open(s, policy.DefaultOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCreate(t, e, "admin", []string{"admin"}, nil)
	forged := "fvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	sum := sha256Hex(forged)
	if err := s.Apply([]kv.Op{{Key: []byte("p/token/" + sum), Value: []byte("admin")}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := e.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, err := e.Authenticate(forged); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("Authenticate(orphan token) = %v, want ErrUnauthenticated", err)
	}
}
