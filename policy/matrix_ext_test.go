package policy_test

import (
	"errors"
	"testing"

	"github.com/featurevault/featurevault/policy"
)

// The matrix fixture: two views with tagged columns, seven roles, eight
// principals.
var matrixViews = map[string][]policy.FieldRef{
	"customer_profile": {
		{Name: "email", Tags: []string{"pii"}},
		{Name: "income", Tags: []string{"pii", "financial"}},
		{Name: "age"},
		{Name: "segment"},
		{Name: "ssn", Tags: []string{"pii", "restricted"}},
	},
	"transactions": {
		{Name: "amount", Tags: []string{"financial"}},
		{Name: "merchant"},
		{Name: "card_number", Tags: []string{"restricted", "pii"}},
	},
}

const (
	read  = policy.ActionRead
	agg   = policy.ActionAggregate
	write = policy.ActionWrite
	admin = policy.ActionAdmin
)

var matrixRules = []policy.Rule{
	{Role: "analyst", Action: read, Object: "customer_profile.*", Purpose: "analytics"},
	{Role: "analyst", Action: agg, Object: "tag:financial", Env: "prod"},
	{Role: "analyst", Action: read, Object: "tag:pii", Deny: true},
	{Role: "senior_analyst", Action: read, Object: "tag:pii", Purpose: "analytics", Env: "prod"},
	{Role: "senior_analyst", Action: read, Object: "transactions.*", Purpose: "training"},
	{Role: "ml_engineer", Action: read, Object: "customer_profile.age", Purpose: "training"},
	{Role: "ml_engineer", Action: read, Object: "customer_profile.segment", Purpose: "training"},
	{Role: "ml_engineer", Action: read, Object: "transactions.amount", Purpose: "training", Env: "staging"},
	{Role: "ml_engineer", Action: agg, Object: "*", Purpose: "training"},
	{Role: "ml_engineer", Action: agg, Object: "tag:restricted", Deny: true},
	{Role: "writer", Action: write, Object: "customer_profile.*", Env: "prod"},
	{Role: "writer", Action: write, Object: "customer_profile.ssn", Deny: true},
	{Role: "admin", Action: admin, Object: "*"},
	{Role: "auditor", Action: read, Object: "tag:pii", Purpose: "audit", Env: "prod"},
	{Role: "auditor", Action: admin, Object: "customer_profile.*", Purpose: "audit"},
	{Role: "contractor", Action: read, Object: "customer_profile.*"},
	{Role: "contractor", Action: read, Object: "customer_profile.income", Deny: true},
}

type matrixPrincipal struct {
	roles []string
	attrs map[string][]string
}

var matrixPrincipals = map[string]matrixPrincipal{
	"alice": {[]string{"analyst"}, map[string][]string{"purpose": {"analytics"}, "env": {"prod", "staging"}}},
	"bob":   {[]string{"senior_analyst"}, map[string][]string{"purpose": {"analytics", "training"}}},
	"carol": {[]string{"ml_engineer"}, map[string][]string{"purpose": {"training"}, "env": {"staging", "prod"}}},
	"dave":  {[]string{"writer"}, nil},
	"erin":  {[]string{"admin"}, nil},
	"frank": {nil, nil},
	"gina":  {[]string{"auditor"}, map[string][]string{"purpose": {"audit"}}},
	"hank":  {[]string{"contractor"}, nil},
}

// matrixEngine builds the fixture and returns the engine with each
// principal as Authenticate returns it.
func matrixEngine(t testing.TB) (*policy.Engine, map[string]policy.Principal) {
	t.Helper()
	e, _ := newEngine(t, policy.DefaultOptions())
	for view, fields := range matrixViews {
		mustSync(t, e, view, fields)
	}
	mustGrant(t, e, matrixRules...)
	if err := e.AddRoleInheritance("senior_analyst", "analyst"); err != nil {
		t.Fatalf("AddRoleInheritance: %v", err)
	}
	ps := map[string]policy.Principal{}
	for name, mp := range matrixPrincipals {
		ps[name], _ = mustCreate(t, e, name, mp.roles, mp.attrs)
	}
	return e, ps
}

func fieldRef(view, field string) policy.FieldRef {
	for _, f := range matrixViews[view] {
		if f.Name == field {
			return f
		}
	}
	panic("no field " + view + "." + field)
}

const defaultDeny = policy.RuleDefaultDeny

// TestAuthorizationMatrix checks roles × tagged columns × actions × purposes
// × environments against the expected decision and deciding rule, one
// column at a time and again within a whole-view request.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	e, ps := matrixEngine(t)

	tests := []struct {
		name      string
		principal string
		view      string
		field     string
		action    policy.Action
		purpose   string
		env       string
		want      bool
		wantRule  string
		wantErr   error
	}{
		// analyst: view rule for one purpose, tag rule for one env, pii denied.
		{"view rule allows", "alice", "customer_profile", "age", read, "analytics", "prod", true, "p, analyst, customer_profile.*, read, analytics, *, allow", nil},
		{"view rule any env", "alice", "customer_profile", "segment", read, "analytics", "staging", true, "p, analyst, customer_profile.*, read, analytics, *, allow", nil},
		{"tag deny beats view allow", "alice", "customer_profile", "email", read, "analytics", "prod", false, "p, analyst, tag:pii, read, *, *, deny", nil},
		{"tag deny on multi-tag column", "alice", "customer_profile", "income", read, "analytics", "prod", false, "p, analyst, tag:pii, read, *, *, deny", nil},
		{"aggregate by tag", "alice", "customer_profile", "income", agg, "analytics", "prod", true, "p, analyst, tag:financial, aggregate, *, prod, allow", nil},
		{"aggregate tag wrong env", "alice", "customer_profile", "income", agg, "analytics", "staging", false, defaultDeny, nil},
		{"aggregate untagged column", "alice", "customer_profile", "age", agg, "analytics", "prod", false, defaultDeny, nil},
		{"tag rule crosses views", "alice", "transactions", "amount", agg, "analytics", "prod", true, "p, analyst, tag:financial, aggregate, *, prod, allow", nil},
		{"no write rule", "alice", "customer_profile", "age", write, "analytics", "prod", false, defaultDeny, nil},
		{"other view", "alice", "transactions", "merchant", read, "analytics", "prod", false, defaultDeny, nil},
		{"purpose not in attribute", "alice", "customer_profile", "age", read, "training", "prod", false, "", policy.ErrPurposeNotAllowed},
		{"env not in attribute", "alice", "customer_profile", "age", read, "analytics", "dev", false, "", policy.ErrEnvNotAllowed},

		// senior_analyst inherits analyst, including its deny.
		{"inherited allow", "bob", "customer_profile", "age", read, "analytics", "prod", true, "p, analyst, customer_profile.*, read, analytics, *, allow", nil},
		{"inherited deny beats own allow", "bob", "customer_profile", "email", read, "analytics", "prod", false, "p, analyst, tag:pii, read, *, *, deny", nil},
		{"own view rule", "bob", "transactions", "merchant", read, "training", "prod", true, "p, senior_analyst, transactions.*, read, training, *, allow", nil},
		{"inherited deny in other view", "bob", "transactions", "card_number", read, "training", "prod", false, "p, analyst, tag:pii, read, *, *, deny", nil},
		{"inherited rule wrong purpose", "bob", "customer_profile", "age", read, "training", "prod", false, defaultDeny, nil},
		{"inherited aggregate", "bob", "transactions", "amount", agg, "analytics", "prod", true, "p, analyst, tag:financial, aggregate, *, prod, allow", nil},
		{"no env attribute: any env", "bob", "customer_profile", "age", read, "analytics", "dev", true, "p, analyst, customer_profile.*, read, analytics, *, allow", nil},
		{"purpose outside list", "bob", "customer_profile", "age", read, "marketing", "prod", false, "", policy.ErrPurposeNotAllowed},

		// ml_engineer: column rules, global aggregate with restricted denied.
		{"column rule", "carol", "customer_profile", "age", read, "training", "prod", true, "p, ml_engineer, customer_profile.age, read, training, *, allow", nil},
		{"column rule staging", "carol", "customer_profile", "segment", read, "training", "staging", true, "p, ml_engineer, customer_profile.segment, read, training, *, allow", nil},
		{"ungranted column", "carol", "customer_profile", "email", read, "training", "prod", false, defaultDeny, nil},
		{"column rule with env", "carol", "transactions", "amount", read, "training", "staging", true, "p, ml_engineer, transactions.amount, read, training, staging, allow", nil},
		{"column rule env mismatch", "carol", "transactions", "amount", read, "training", "prod", false, defaultDeny, nil},
		{"global aggregate", "carol", "customer_profile", "income", agg, "training", "prod", true, "p, ml_engineer, *, aggregate, training, *, allow", nil},
		{"restricted deny beats global", "carol", "customer_profile", "ssn", agg, "training", "prod", false, "p, ml_engineer, tag:restricted, aggregate, *, *, deny", nil},
		{"restricted deny other view", "carol", "transactions", "card_number", agg, "training", "staging", false, "p, ml_engineer, tag:restricted, aggregate, *, *, deny", nil},
		{"global aggregate untagged", "carol", "transactions", "merchant", agg, "training", "staging", true, "p, ml_engineer, *, aggregate, training, *, allow", nil},
		{"aggregate without read", "carol", "customer_profile", "income", read, "training", "prod", false, defaultDeny, nil},
		{"carol wrong purpose", "carol", "customer_profile", "age", read, "analytics", "prod", false, "", policy.ErrPurposeNotAllowed},
		{"carol wrong env", "carol", "customer_profile", "age", read, "training", "dev", false, "", policy.ErrEnvNotAllowed},

		// writer: write on a view in prod, one column denied.
		{"write allowed", "dave", "customer_profile", "age", write, "ingest", "prod", true, "p, writer, customer_profile.*, write, *, prod, allow", nil},
		{"column deny beats view allow", "dave", "customer_profile", "ssn", write, "ingest", "prod", false, "p, writer, customer_profile.ssn, write, *, *, deny", nil},
		{"write wrong env", "dave", "customer_profile", "age", write, "ingest", "staging", false, defaultDeny, nil},
		{"write gives no read", "dave", "customer_profile", "age", read, "ingest", "prod", false, defaultDeny, nil},
		{"write other view", "dave", "transactions", "amount", write, "ingest", "prod", false, defaultDeny, nil},
		{"writer no aggregate", "dave", "customer_profile", "income", agg, "ingest", "prod", false, defaultDeny, nil},

		// admin: admin everywhere, nothing else.
		{"admin on any column", "erin", "customer_profile", "ssn", admin, "ops", "prod", true, "p, admin, *, admin, *, *, allow", nil},
		{"admin other view", "erin", "transactions", "amount", admin, "ops", "staging", true, "p, admin, *, admin, *, *, allow", nil},
		{"admin gives no read", "erin", "customer_profile", "ssn", read, "ops", "prod", false, defaultDeny, nil},

		// no roles: nothing.
		{"no role read", "frank", "customer_profile", "age", read, "analytics", "prod", false, defaultDeny, nil},
		{"no role admin", "frank", "customer_profile", "age", admin, "analytics", "prod", false, defaultDeny, nil},

		// auditor: pii by tag for one purpose in prod, admin on one view.
		{"pii by tag", "gina", "customer_profile", "email", read, "audit", "prod", true, "p, auditor, tag:pii, read, audit, prod, allow", nil},
		{"pii by tag restricted", "gina", "customer_profile", "ssn", read, "audit", "prod", true, "p, auditor, tag:pii, read, audit, prod, allow", nil},
		{"untagged not covered", "gina", "customer_profile", "age", read, "audit", "prod", false, defaultDeny, nil},
		{"pii tag other view", "gina", "transactions", "card_number", read, "audit", "prod", true, "p, auditor, tag:pii, read, audit, prod, allow", nil},
		{"pii tag wrong env", "gina", "customer_profile", "email", read, "audit", "staging", false, defaultDeny, nil},
		{"view admin", "gina", "customer_profile", "age", admin, "audit", "prod", true, "p, auditor, customer_profile.*, admin, audit, *, allow", nil},
		{"view admin not other view", "gina", "transactions", "amount", admin, "audit", "prod", false, defaultDeny, nil},

		// contractor: column deny beats view allow, every purpose.
		{"contractor view allow", "hank", "customer_profile", "age", read, "anything", "dev", true, "p, contractor, customer_profile.*, read, *, *, allow", nil},
		{"contractor column deny", "hank", "customer_profile", "income", read, "anything", "dev", false, "p, contractor, customer_profile.income, read, *, *, deny", nil},
	}
	if len(tests) < 40 {
		t.Fatalf("matrix has %d cases; want at least 40", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := ps[tt.principal]
			d, err := e.Decide(p, tt.view, []policy.FieldRef{fieldRef(tt.view, tt.field)}, tt.action, tt.purpose, tt.env)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Decide(%s %s.%s %s %s %s) error = %v, want %v", tt.principal, tt.view, tt.field, tt.action, tt.purpose, tt.env, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if got := d.Allowed[0]; got != tt.want {
				t.Errorf("Decide(%s %s.%s %s %s %s) allowed = %v, want %v (rule %q)", tt.principal, tt.view, tt.field, tt.action, tt.purpose, tt.env, got, tt.want, d.Rule[0])
			}
			if got := d.Rule[0]; got != tt.wantRule {
				t.Errorf("Decide(%s %s.%s %s %s %s) rule = %q, want %q", tt.principal, tt.view, tt.field, tt.action, tt.purpose, tt.env, got, tt.wantRule)
			}

			// The same column within a whole-view request, in view order
			// and reversed, must get the same verdict.
			all := matrixViews[tt.view]
			rev := make([]policy.FieldRef, len(all))
			for i := range all {
				rev[len(all)-1-i] = all[i]
			}
			for _, fields := range [][]policy.FieldRef{all, rev} {
				d, err := e.Decide(p, tt.view, fields, tt.action, tt.purpose, tt.env)
				if err != nil {
					t.Fatalf("Decide(whole view): %v", err)
				}
				for i, f := range fields {
					if f.Name == tt.field && (d.Allowed[i] != tt.want || d.Rule[i] != tt.wantRule) {
						t.Errorf("whole-view Decide: %s = %v by %q, want %v by %q", f.Name, d.Allowed[i], d.Rule[i], tt.want, tt.wantRule)
					}
				}
			}
		})
	}
}
