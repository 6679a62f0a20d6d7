package policy_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/featurevault/featurevault/policy"
)

var profile = []policy.FieldRef{
	{Name: "email", Tags: []string{"pii"}},
	{Name: "age"},
}

func decideOne(t *testing.T, e *policy.Engine, p policy.Principal, fields []policy.FieldRef, field string) (bool, string) {
	t.Helper()
	for _, f := range fields {
		if f.Name == field {
			d, err := e.Decide(p, "customer_profile", []policy.FieldRef{f}, policy.ActionRead, "training", "prod")
			if err != nil {
				t.Fatalf("Decide(%s): %v", field, err)
			}
			return d.Allowed[0], d.Rule[0]
		}
	}
	t.Fatalf("no field %s", field)
	return false, ""
}

// TestChangesApplyToTheNextDecide warms the cache, makes each kind of
// change, and checks the very next Decide sees it.
func TestChangesApplyToTheNextDecide(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustSync(t, e, "customer_profile", profile)
	allowView := policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "customer_profile.*"}
	mustGrant(t, e, allowView)
	p, _ := mustCreate(t, e, "alice", []string{"analyst"}, nil)
	allPII := []policy.FieldRef{{Name: "email", Tags: []string{"pii"}}, {Name: "age", Tags: []string{"pii"}}}
	cur := profile // the view as the registry has it

	steps := []struct {
		name      string
		change    func() error
		field     string
		wantAllow bool
		wantRule  string
	}{
		{"initial grant", func() error { return nil }, "email", true, "p, analyst, customer_profile.*, read, *, *, allow"},
		{"deny on a tag", func() error {
			return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii", Deny: true})
		}, "email", false, "p, analyst, tag:pii, read, *, *, deny"},
		{"untagged column unaffected", func() error { return nil }, "age", true, "p, analyst, customer_profile.*, read, *, *, allow"},
		{"tag added to a column by SyncView", func() error {
			cur = allPII
			return e.SyncView("customer_profile", cur)
		}, "age", false, "p, analyst, tag:pii, read, *, *, deny"},
		{"tag removed again", func() error {
			cur = profile
			return e.SyncView("customer_profile", cur)
		}, "age", true, "p, analyst, customer_profile.*, read, *, *, allow"},
		{"deny revoked", func() error {
			return e.Revoke(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii", Deny: true})
		}, "email", true, "p, analyst, customer_profile.*, read, *, *, allow"},
		{"allow revoked", func() error { return e.Revoke(allowView) }, "email", false, policy.RuleDefaultDeny},
		{"grant to another role", func() error {
			return e.Grant(policy.Rule{Role: "reader", Action: policy.ActionRead, Object: "customer_profile.age", Purpose: "training"})
		}, "age", false, policy.RuleDefaultDeny},
		{"role assigned", func() error { return e.AssignRole("alice", "reader") }, "age", true, "p, reader, customer_profile.age, read, training, *, allow"},
		{"role unassigned", func() error { return e.UnassignRole("alice", "reader") }, "age", false, policy.RuleDefaultDeny},
		{"inheritance added", func() error { return e.AddRoleInheritance("analyst", "reader") }, "age", true, "p, reader, customer_profile.age, read, training, *, allow"},
		{"inheritance removed", func() error { return e.RemoveRoleInheritance("analyst", "reader") }, "age", false, policy.RuleDefaultDeny},
	}
	for _, s := range steps {
		v := e.Version()
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		allowed, rule := decideOne(t, e, p, cur, s.field)
		if allowed != s.wantAllow || rule != s.wantRule {
			t.Errorf("after %s: %s = %v by %q, want %v by %q", s.name, s.field, allowed, rule, s.wantAllow, s.wantRule)
		}
		// Decide again: the cached answer must be the same.
		if a2, r2 := decideOne(t, e, p, cur, s.field); a2 != allowed || r2 != rule {
			t.Errorf("after %s: cached decision %v by %q differs from %v by %q", s.name, a2, r2, allowed, rule)
		}
		if e.Version() == v && s.name != "initial grant" && s.name != "untagged column unaffected" {
			t.Errorf("after %s: policy version did not move", s.name)
		}
	}

	// Revoking the principal: the next Decide fails, even with the stale
	// Principal value.
	if err := e.RevokePrincipal("alice"); err != nil {
		t.Fatalf("RevokePrincipal: %v", err)
	}
	if _, err := e.Decide(p, "customer_profile", profile, policy.ActionRead, "training", "prod"); !errors.Is(err, policy.ErrUnauthenticated) {
		t.Errorf("Decide after RevokePrincipal = %v, want ErrUnauthenticated", err)
	}
}

func TestDecideRefusals(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustSync(t, e, "customer_profile", profile)
	mustGrant(t, e, policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "*"})
	p, _ := mustCreate(t, e, "alice", []string{"analyst"}, map[string][]string{"purpose": {"training", "analytics"}})
	stranger := policy.Principal{Name: "stranger"}

	tests := []struct {
		name    string
		p       policy.Principal
		view    string
		fields  []policy.FieldRef
		action  policy.Action
		purpose string
		env     string
		wantErr error
	}{
		{"unknown field", p, "customer_profile", []policy.FieldRef{{Name: "income"}}, policy.ActionRead, "training", "prod", policy.ErrViewNotSynced},
		{"unsynced view", p, "transactions", []policy.FieldRef{{Name: "amount"}}, policy.ActionRead, "training", "prod", policy.ErrViewNotSynced},
		{"tag missing in request", p, "customer_profile", []policy.FieldRef{{Name: "email"}}, policy.ActionRead, "training", "prod", policy.ErrViewNotSynced},
		{"extra tag in request", p, "customer_profile", []policy.FieldRef{{Name: "age", Tags: []string{"pii"}}}, policy.ActionRead, "training", "prod", policy.ErrViewNotSynced},
		{"invalid action", p, "customer_profile", profile, policy.Action("delete"), "training", "prod", policy.ErrInvalidAction},
		{"empty purpose", p, "customer_profile", profile, policy.ActionRead, "", "prod", policy.ErrInvalidName},
		{"wildcard purpose", p, "customer_profile", profile, policy.ActionRead, "*", "prod", policy.ErrInvalidName},
		{"empty env", p, "customer_profile", profile, policy.ActionRead, "training", "", policy.ErrInvalidName},
		{"purpose not allowed", p, "customer_profile", profile, policy.ActionRead, "marketing", "prod", policy.ErrPurposeNotAllowed},
		{"unknown principal", stranger, "customer_profile", profile, policy.ActionRead, "training", "prod", policy.ErrUnauthenticated},
		{"revoked flag", policy.Principal{Name: "alice", Revoked: true}, "customer_profile", profile, policy.ActionRead, "training", "prod", policy.ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := e.Decide(tt.p, tt.view, tt.fields, tt.action, tt.purpose, tt.env)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decide = %+v, %v; want %v", d, err, tt.wantErr)
			}
		})
	}

	// The purpose error names the purpose and what may be claimed.
	_, err := e.Decide(p, "customer_profile", profile, policy.ActionRead, "marketing", "prod")
	const want = `policy: purpose not allowed for this principal: principal "alice" may not claim purpose "marketing"; it may claim analytics, training`
	if err == nil || err.Error() != want {
		t.Errorf("purpose error = %q, want %q", err, want)
	}

	// Tags in another order or repeated are the same set.
	d, err := e.Decide(p, "customer_profile", []policy.FieldRef{{Name: "email", Tags: []string{"pii", "pii"}}}, policy.ActionRead, "training", "prod")
	if err != nil || !d.Allowed[0] {
		t.Errorf("Decide(tags repeated) = %+v, %v; want allowed", d, err)
	}
	if !d.AllAllowed() {
		t.Errorf("AllAllowed = false, want true")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustGrant(t, e,
		policy.Rule{Role: "ops", Action: policy.ActionAdmin, Object: "*", Env: "staging"},
		policy.Rule{Role: "owner", Action: policy.ActionAdmin, Object: "customer_profile.*"},
	)
	ops, _ := mustCreate(t, e, "olga", []string{"ops"}, nil)
	owner, _ := mustCreate(t, e, "otto", []string{"owner"}, nil)
	tests := []struct {
		name     string
		p        policy.Principal
		object   string
		env      string
		want     bool
		wantRule string
	}{
		{"service admin in staging", ops, "*", "staging", true, "p, ops, *, admin, *, staging, allow"},
		{"service admin not in prod", ops, "*", "prod", false, policy.RuleDefaultDeny},
		{"wildcard covers a view", ops, "transactions.*", "staging", true, "p, ops, *, admin, *, staging, allow"},
		{"view admin on its view", owner, "customer_profile.*", "prod", true, "p, owner, customer_profile.*, admin, *, *, allow"},
		{"view admin is not service admin", owner, "*", "prod", false, policy.RuleDefaultDeny},
		{"view admin not other view", owner, "transactions.*", "prod", false, policy.RuleDefaultDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := e.Check(tt.p, tt.object, policy.ActionAdmin, "administration", tt.env)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if v.Allowed != tt.want || v.Rule != tt.wantRule {
				t.Errorf("Check(%s, %s) = %v by %q, want %v by %q", tt.p.Name, tt.object, v.Allowed, v.Rule, tt.want, tt.wantRule)
			}
		})
	}
	if _, err := e.Check(ops, "customer_profile.age", policy.ActionAdmin, "administration", "prod"); !errors.Is(err, policy.ErrInvalidName) {
		t.Errorf("Check(column) = %v, want ErrInvalidName (columns go through Decide)", err)
	}
}

func TestBootstrapAdmin(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustSync(t, e, "customer_profile", profile)
	tok, err := e.EnsureBootstrapAdmin()
	if err != nil || tok == "" {
		t.Fatalf("EnsureBootstrapAdmin = %q, %v; want a token", tok, err)
	}
	p, err := e.Authenticate(tok)
	if err != nil || p.Name != "admin" || len(p.Roles) != 1 || p.Roles[0] != "admin" {
		t.Fatalf("Authenticate(bootstrap token) = %+v, %v; want principal admin with role admin", p, err)
	}
	for _, a := range []policy.Action{policy.ActionAdmin, policy.ActionBackup} {
		v, err := e.Check(p, "*", a, "administration", "prod")
		if err != nil || !v.Allowed {
			t.Errorf("Check(admin, *, %s) = %+v, %v; want allowed", a, v, err)
		}
	}
	for _, a := range []policy.Action{policy.ActionRead, policy.ActionWrite} {
		d, err := e.Decide(p, "customer_profile", profile, a, "administration", "prod")
		if err != nil || !d.AllAllowed() {
			t.Errorf("Decide(admin, %s) = %+v, %v; want all allowed", a, d, err)
		}
	}
	again, err := e.EnsureBootstrapAdmin()
	if err != nil || again != "" {
		t.Errorf("second EnsureBootstrapAdmin = %q, %v; want empty", again, err)
	}
	want := []string{
		"p, admin, *, admin, *, *, allow",
		"p, admin, *, backup, *, *, allow",
		"p, admin, *, read, *, *, allow",
		"p, admin, *, write, *, *, allow",
	}
	var got []string
	for _, r := range e.ListRules() {
		got = append(got, r.String())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bootstrap rules = %q, want %q", got, want)
	}
}

func TestRoleInheritance(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	for _, l := range [][2]string{{"b", "a"}, {"c", "b"}} {
		if err := e.AddRoleInheritance(l[0], l[1]); err != nil {
			t.Fatalf("AddRoleInheritance(%s, %s): %v", l[0], l[1], err)
		}
	}
	for _, l := range [][2]string{{"a", "c"}, {"a", "b"}, {"a", "a"}} {
		if err := e.AddRoleInheritance(l[0], l[1]); !errors.Is(err, policy.ErrRoleCycle) {
			t.Errorf("AddRoleInheritance(%s, %s) = %v, want ErrRoleCycle", l[0], l[1], err)
		}
	}
	if got, want := fmt.Sprint(e.ListRoleInheritance()), "[g, b, a g, c, b]"; got != want {
		t.Errorf("ListRoleInheritance = %s, want %s", got, want)
	}
	if err := e.RemoveRoleInheritance("a", "b"); !errors.Is(err, policy.ErrRoleNotAssigned) {
		t.Errorf("RemoveRoleInheritance(absent) = %v, want ErrRoleNotAssigned", err)
	}
}

func TestRevokeUnknownRule(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	r := policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii"}
	mustGrant(t, e, r, r) // granting twice is a no-op
	if got := len(e.ListRules()); got != 1 {
		t.Errorf("rules after granting one rule twice = %d, want 1", got)
	}
	r.Deny = true
	if err := e.Revoke(r); !errors.Is(err, policy.ErrRuleNotFound) {
		t.Errorf("Revoke(deny variant) = %v, want ErrRuleNotFound", err)
	}
	if err := e.Grant(policy.Rule{Role: "analyst", Action: "drop", Object: "*"}); !errors.Is(err, policy.ErrInvalidAction) {
		t.Errorf("Grant(action drop) = %v, want ErrInvalidAction", err)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	e, ps := matrixEngine(t)
	x, err := e.Explain(ps["alice"], "customer_profile", nil, "analytics", "prod")
	if err != nil {
		t.Fatalf("Explain: %v", err)
	}
	if len(x.Fields) != len(matrixViews["customer_profile"]) {
		t.Fatalf("Explain has %d fields, want %d", len(x.Fields), len(matrixViews["customer_profile"]))
	}
	got := map[string]string{}
	for _, f := range x.Fields {
		if len(f.Verdicts) != len(policy.Actions()) {
			t.Fatalf("field %s has %d verdicts, want one per action", f.Field, len(f.Verdicts))
		}
		for _, v := range f.Verdicts {
			got[f.Field+" "+string(v.Action)] = fmt.Sprintf("%v by %s", v.Allowed, v.Rule)
		}
	}
	want := map[string]string{
		"email read":       "false by p, analyst, tag:pii, read, *, *, deny",
		"income aggregate": "true by p, analyst, tag:financial, aggregate, *, prod, allow",
		"age read":         "true by p, analyst, customer_profile.*, read, analytics, *, allow",
		"age write":        "false by default deny",
		"ssn admin":        "false by default deny",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("Explain %s = %q, want %q", k, got[k], w)
		}
	}
	if _, err := e.Explain(ps["alice"], "nowhere", nil, "analytics", "prod"); !errors.Is(err, policy.ErrViewNotSynced) {
		t.Errorf("Explain(unsynced view) = %v, want ErrViewNotSynced", err)
	}
}

// TestConcurrentDecideDuringChanges runs readers against a writer that
// flips a deny rule; every answer must be one of the two consistent states,
// and the final answer must match the final policy. Run with -race.
func TestConcurrentDecideDuringChanges(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions().WithCacheSize(8))
	mustSync(t, e, "customer_profile", profile)
	mustGrant(t, e, policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "customer_profile.*"})
	deny := policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii", Deny: true}
	var ps []policy.Principal
	for i := range 4 {
		p, _ := mustCreate(t, e, fmt.Sprintf("p%d", i), []string{"analyst"}, nil)
		ps = append(ps, p)
	}
	allowRule := "p, analyst, customer_profile.*, read, *, *, allow"
	denyRule := "p, analyst, tag:pii, read, *, *, deny"

	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for r := range 8 {
		wg.Go(func() {
			p := ps[r%len(ps)]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				purpose := []string{"training", "analytics", "audit"}[i%3]
				d, err := e.Decide(p, "customer_profile", profile, policy.ActionRead, purpose, "prod")
				if err != nil {
					errs <- err
					return
				}
				ok := d.Allowed[1] && d.Rule[1] == allowRule &&
					((d.Allowed[0] && d.Rule[0] == allowRule) || (!d.Allowed[0] && d.Rule[0] == denyRule))
				if !ok {
					errs <- fmt.Errorf("inconsistent decision %v %q", d.Allowed, d.Rule)
					return
				}
			}
		})
	}
	for i := range 200 {
		var err error
		if i%2 == 0 {
			err = e.Grant(deny)
		} else {
			err = e.Revoke(deny)
		}
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		if i%20 == 0 {
			if _, err := e.Authenticate("fvt_" + fmt.Sprintf("%043d", i)); !errors.Is(err, policy.ErrUnauthenticated) {
				t.Errorf("Authenticate(garbage) = %v", err)
			}
		}
	}
	if err := e.Grant(deny); err != nil {
		t.Fatalf("final Grant: %v", err)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, p := range ps {
		d, err := e.Decide(p, "customer_profile", profile, policy.ActionRead, "training", "prod")
		if err != nil || d.Allowed[0] || d.Rule[0] != denyRule {
			t.Errorf("final Decide(%s) = %+v, %v; want email denied by %q", p.Name, d, err, denyRule)
		}
	}
}
