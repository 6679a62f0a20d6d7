package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// policyFixture grants, through the AdminService, the rules the matrix
// exercises, and creates one principal per role.
type policyFixture struct {
	s      *server
	tokens map[string]string
}

func rule(role string, a fvv1.Action, object, purpose, env string, deny bool) *fvv1.Rule {
	return &fvv1.Rule{Role: role, Action: a, Object: object, Purpose: purpose, Env: env, Deny: deny}
}

const (
	read      = fvv1.Action_ACTION_READ
	write     = fvv1.Action_ACTION_WRITE
	aggregate = fvv1.Action_ACTION_AGGREGATE
	admin     = fvv1.Action_ACTION_ADMIN
)

func newPolicyFixture(t *testing.T) *policyFixture {
	t.Helper()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx := t.Context()
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-1")}})); err != nil {
		t.Fatal(err)
	}
	rules := []*fvv1.Rule{
		rule("analyst", read, "profile.*", "analytics", "", false),
		rule("analyst", read, "tag:pii", "", "", true), // deny beats every allow
		rule("analyst", aggregate, "tag:pii", "analytics", "", false),
		rule("scientist", read, "profile.*", "", "", false),
		rule("writer", write, "profile.*", "", "dev", false),
		rule("writer", write, "profile.email", "", "", true),
		rule("prodonly", read, "profile.age", "", "prod", false),
		rule("auditor", admin, "*", "", "", false),
		rule("fraud", read, "tag:pii", "fraud", "", false),
		rule("emailer", read, "profile.email", "marketing", "", false),
	}
	for _, r := range rules {
		if _, err := s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: r})); err != nil {
			t.Fatalf("grant %v: %v", r, err)
		}
	}
	// senior inherits analyst (and so its pii deny) and adds fraud.
	for _, a := range [][2]string{{"senior", "analyst"}, {"senior", "fraud"}} {
		if _, err := s.admin.AssignRole(ctx, connect.NewRequest(&fvv1.AssignRoleRequest{Principal: a[0], Role: a[1]})); err != nil {
			t.Fatalf("inherit %v: %v", a, err)
		}
	}
	attrs := func(kv ...string) map[string]*fvv1.StringList {
		m := map[string]*fvv1.StringList{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = &fvv1.StringList{Values: strings.Split(kv[i+1], "|")}
		}
		return m
	}
	principals := []*fvv1.CreatePrincipalRequest{
		{Name: "alice", Roles: []string{"analyst"}, Attributes: attrs("purpose", "analytics")},
		{Name: "bob", Roles: []string{"scientist"}, Attributes: attrs("purpose", "training|analytics")},
		{Name: "carol", Roles: []string{"writer"}},
		{Name: "dave", Roles: []string{"prodonly"}},
		{Name: "erin", Roles: []string{"auditor"}},
		{Name: "frank", Roles: []string{"senior"}, Attributes: attrs("purpose", "fraud|analytics")},
		{Name: "gina", Roles: []string{"scientist"}, Attributes: attrs("env", "prod")},
		{Name: "hank", Roles: []string{"fraud", "emailer"}},
		{Name: "ivan"},
	}
	f := &policyFixture{s: s, tokens: map[string]string{}}
	for _, p := range principals {
		res, err := s.admin.CreatePrincipal(ctx, connect.NewRequest(p))
		if err != nil {
			t.Fatalf("create %s: %v", p.Name, err)
		}
		f.tokens[p.Name] = res.Msg.Token
	}
	return f
}

func (f *policyFixture) feature(who, purpose string) featurevaultv1connect.FeatureServiceClient {
	return featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, f.s.url, f.s.as(f.tokens[who], purpose))
}

func (f *policyFixture) adminAs(who, purpose string) featurevaultv1connect.AdminServiceClient {
	return featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, f.s.url, f.s.as(f.tokens[who], purpose))
}

// outcome is what a request got: "allow", "deny" (the column came back
// DENIED, or PermissionDenied), or a Connect code name for a refusal.
func (f *policyFixture) try(ctx context.Context, who, purpose string, action fvv1.Action, column string) string {
	var err error
	switch action {
	case read:
		var res *connect.Response[fvv1.GetOnlineFeaturesResponse]
		res, err = f.feature(who, purpose).GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-1"}, Features: []string{column}}))
		if err == nil {
			switch st := res.Msg.Rows[0].Statuses[0]; st {
			case fvv1.FieldStatus_FIELD_STATUS_PRESENT:
				return "allow"
			case fvv1.FieldStatus_FIELD_STATUS_DENIED:
				return "deny"
			default:
				return "status " + st.String()
			}
		}
	case write:
		row := sampleRow("c-9")
		row.Values = map[string]*fvv1.Value{column: sampleRow("c-9").Values[column]}
		_, err = f.feature(who, purpose).WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{row}}))
	case admin:
		_, err = f.adminAs(who, purpose).ListFeatureViews(ctx, connect.NewRequest(&fvv1.ListFeatureViewsRequest{}))
	}
	switch {
	case err == nil:
		return "allow"
	case connect.CodeOf(err) == connect.CodePermissionDenied && !strings.Contains(err.Error(), "may claim") && !strings.Contains(err.Error(), "not allowed for this principal"):
		return "deny"
	}
	return connect.CodeOf(err).String()
}

// TestAuthorizationMatrix runs roles × tagged columns × actions × purposes
// × environments against the real server (its environment is "dev").
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	tests := []struct {
		who, purpose string
		action       fvv1.Action
		column       string
		want         string
	}{
		// analyst: all of the view for analytics, never a pii column.
		{"alice", "analytics", read, "age", "allow"},
		{"alice", "analytics", read, "active", "allow"},
		{"alice", "analytics", read, "embedding", "allow"},
		{"alice", "analytics", read, "email", "deny"},
		{"alice", "analytics", read, "income", "deny"},
		{"alice", "training", read, "age", "permission_denied"}, // purpose not in her attributes
		{"alice", "analytics", write, "age", "deny"},
		{"alice", "analytics", admin, "", "deny"},
		// scientist: read everything, for any purpose it may claim.
		{"bob", "training", read, "email", "allow"},
		{"bob", "training", read, "income", "allow"},
		{"bob", "analytics", read, "signup", "allow"},
		{"bob", "marketing", read, "age", "permission_denied"},
		{"bob", "training", write, "age", "deny"},
		// writer: write in dev, never email; no read.
		{"carol", "ingest", write, "age", "allow"},
		{"carol", "ingest", write, "income", "allow"},
		{"carol", "ingest", write, "email", "deny"},
		{"carol", "ingest", read, "age", "deny"},
		// prodonly: its rule is for env prod; this server is dev.
		{"dave", "analytics", read, "age", "deny"},
		{"dave", "analytics", read, "email", "deny"},
		// auditor: admin, and nothing else.
		{"erin", "audit", admin, "", "allow"},
		{"erin", "audit", read, "age", "deny"},
		{"erin", "audit", write, "age", "deny"},
		// senior inherits analyst's pii deny: fraud's allow cannot beat it.
		{"frank", "fraud", read, "email", "deny"},
		{"frank", "analytics", read, "age", "allow"},
		{"frank", "analytics", read, "income", "deny"},
		{"frank", "fraud", read, "age", "deny"}, // analyst's read is for analytics only
		{"frank", "training", read, "age", "permission_denied"},
		// a principal limited to env prod cannot act on a dev server.
		{"gina", "training", read, "age", "permission_denied"},
		// tag rule for a purpose; column rule for another purpose.
		{"hank", "fraud", read, "income", "allow"},
		{"hank", "fraud", read, "email", "allow"},
		{"hank", "fraud", read, "age", "deny"},
		{"hank", "marketing", read, "email", "allow"},
		{"hank", "marketing", read, "income", "deny"},
		{"hank", "analytics", read, "email", "deny"},
		// no roles: deny by default, everywhere.
		{"ivan", "analytics", read, "age", "deny"},
		{"ivan", "analytics", write, "age", "deny"},
		{"ivan", "analytics", admin, "", "deny"},
		{"ivan", "training", read, "email", "deny"},
		// the bootstrap admin: admin, read and write on everything.
		{"admin", "analytics", read, "email", "allow"},
		{"admin", "analytics", write, "email", "allow"},
		{"admin", "analytics", admin, "", "allow"},
	}
	f.tokens["admin"] = f.s.token
	for _, tc := range tests {
		name := fmt.Sprintf("%s/%s/%s/%s", tc.who, tc.purpose, tc.action, tc.column)
		t.Run(name, func(t *testing.T) {
			if got := f.try(t.Context(), tc.who, tc.purpose, tc.action, tc.column); got != tc.want {
				t.Errorf("%s = %s, want %s", name, got, tc.want)
			}
		})
	}
}

func TestRevokeAppliesToTheNextRequest(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	if got := f.try(ctx, "bob", "training", read, "income"); got != "allow" {
		t.Fatalf("before revoke: %s, want allow", got)
	}
	r := rule("scientist", read, "profile.*", "", "", false)
	if _, err := f.s.admin.RevokePolicy(ctx, connect.NewRequest(&fvv1.RevokePolicyRequest{Rule: r})); err != nil {
		t.Fatal(err)
	}
	if got := f.try(ctx, "bob", "training", read, "income"); got != "deny" {
		t.Errorf("after revoking the rule: %s, want deny", got)
	}
	if _, err := f.s.admin.UnassignRole(ctx, connect.NewRequest(&fvv1.UnassignRoleRequest{Principal: "alice", Role: "analyst"})); err != nil {
		t.Fatal(err)
	}
	if got := f.try(ctx, "alice", "analytics", read, "age"); got != "deny" {
		t.Errorf("after unassigning alice's role: %s, want deny", got)
	}
	if _, err := f.s.admin.RevokePrincipal(ctx, connect.NewRequest(&fvv1.RevokePrincipalRequest{Name: "hank"})); err != nil {
		t.Fatal(err)
	}
	if got := f.try(ctx, "hank", "fraud", read, "income"); got != "unauthenticated" {
		t.Errorf("after revoking hank: %s, want unauthenticated", got)
	}
}

func TestStrictModeFailsWholeRequest(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	c := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, f.s.url, f.s.as(f.tokens["alice"], "analytics"))
	req := connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-1"}, Features: []string{"age", "email"}})
	res, err := c.GetOnlineFeatures(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Msg.Rows[0].Statuses
	if got[0] != fvv1.FieldStatus_FIELD_STATUS_PRESENT || got[1] != fvv1.FieldStatus_FIELD_STATUS_DENIED || res.Msg.Rows[0].Values[1].GetKind() != nil {
		t.Errorf("non-strict statuses = %v (email value %v), want [PRESENT DENIED] and no value", got, res.Msg.Rows[0].Values[1])
	}
	req.Header().Set(rpc.HeaderStrict, "true")
	_, err = c.GetOnlineFeatures(t.Context(), req)
	if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "email") {
		t.Errorf("strict read = %v, want PermissionDenied naming email", err)
	}
}

func TestUnauthenticatedCallsAreRefused(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	for name, token := range map[string]string{"no token": "", "unknown token": "fvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "garbage": "not a token", "bad jwt": "eyJhbGciOiJFUzI1NiJ9.e30.AAAA"} {
		c := featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, f.s.url, f.s.as(token, "analytics"))
		_, err := c.ListFeatureViews(t.Context(), connect.NewRequest(&fvv1.ListFeatureViewsRequest{}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", name, err)
		}
		if token != "" && strings.Contains(err.Error(), token) {
			t.Errorf("%s: the error echoes the token", name)
		}
	}
	// A JWT works until its principal is revoked.
	jwt, err := f.s.admin.IssueToken(t.Context(), connect.NewRequest(&fvv1.IssueTokenRequest{Principal: "bob", TtlSeconds: 600}))
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["bob-jwt"] = jwt.Msg.Token
	if got := f.try(t.Context(), "bob-jwt", "training", read, "age"); got != "allow" {
		t.Errorf("JWT read: %s, want allow", got)
	}
	if _, err := f.s.admin.RevokePrincipal(t.Context(), connect.NewRequest(&fvv1.RevokePrincipalRequest{Name: "bob"})); err != nil {
		t.Fatal(err)
	}
	if got := f.try(t.Context(), "bob-jwt", "training", read, "age"); got != "unauthenticated" {
		t.Errorf("JWT of a revoked principal: %s, want unauthenticated", got)
	}
}

// TestHostileNamesCannotChangePolicy sends names with Casbin syntax,
// quotes and newlines everywhere a name reaches a rule.
func TestHostileNamesCannotChangePolicy(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	listRules := func() string {
		res, err := f.s.admin.ListPolicies(ctx, connect.NewRequest(&fvv1.ListPoliciesRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.Msg.Rules, res.Msg.Assignments)
	}
	before := listRules()
	hostile := []string{"a,b", `a"b`, "a\nb", "p, admin, *, admin, *, *, allow", "g(", "admin\r", "a b", "", strings.Repeat("x", 70), "x'y", "tag:pii,", "*"}
	for _, h := range hostile {
		calls := map[string]func() error{
			"grant role": func() error {
				_, err := f.s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule(h, read, "profile.age", "", "", false)}))
				return err
			},
			"grant object": func() error {
				_, err := f.s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule("analyst", read, "profile."+h, "", "", false)}))
				return err
			},
			"grant purpose": func() error {
				_, err := f.s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule("analyst", read, "profile.age", h, "", false)}))
				return err
			},
			"create principal": func() error {
				_, err := f.s.admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: h, Roles: []string{"analyst"}}))
				return err
			},
			"principal role": func() error {
				_, err := f.s.admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "newbie", Roles: []string{h}}))
				return err
			},
			"assign role": func() error {
				_, err := f.s.admin.AssignRole(ctx, connect.NewRequest(&fvv1.AssignRoleRequest{Principal: "alice", Role: h}))
				return err
			},
			"view name": func() error {
				_, err := f.s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: &fvv1.FeatureView{Name: h, Entity: "customer", Fields: []*fvv1.Field{{Name: "x", Type: fvv1.FieldType_FIELD_TYPE_BOOL}}}}))
				return err
			},
			"field name": func() error {
				_, err := f.s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: &fvv1.FeatureView{Name: "v2", Entity: "customer", Fields: []*fvv1.Field{{Name: h, Type: fvv1.FieldType_FIELD_TYPE_BOOL}}}}))
				return err
			},
			"field tag": func() error {
				_, err := f.s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: &fvv1.FeatureView{Name: "v3", Entity: "customer", Fields: []*fvv1.Field{{Name: "x", Type: fvv1.FieldType_FIELD_TYPE_BOOL, Tags: []string{h}}}}}))
				return err
			},
		}
		for name, call := range calls {
			if (h == "*" || h == "") && name == "grant purpose" || h == "*" && name == "grant object" {
				continue // "*" (and an empty purpose) is the documented wildcard there
			}
			err := call()
			if code := connect.CodeOf(err); code != connect.CodeInvalidArgument {
				t.Errorf("%s %q: %v (code %v), want InvalidArgument", name, h, err, code)
			}
		}
	}
	if after := listRules(); after != before {
		t.Errorf("hostile names changed the policy:\nbefore %s\nafter  %s", before, after)
	}
}

func TestRateLimitAnswersResourceExhaustedWithRetryInfo(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), rpc.WithRateLimit(1, 3))
	ctx := t.Context()
	var err error
	for range 10 {
		if _, err = s.admin.ListFeatureViews(ctx, connect.NewRequest(&fvv1.ListFeatureViewsRequest{})); err != nil {
			break
		}
	}
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("after a burst: %v, want ResourceExhausted", err)
	}
	var ce *connect.Error
	errors.As(err, &ce)
	found := false
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if ri, ok := v.(*errdetails.RetryInfo); ok && ri.RetryDelay.AsDuration() > 0 && ri.RetryDelay.AsDuration() <= time.Second {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no RetryInfo with a delay in (0, 1s] in %v", err)
	}
}

// TestEveryDecisionIsAudited checks the audit log holds the reads, the
// refusal and the admin calls, with columns but never values or keys, and
// that the chain verifies.
func TestEveryDecisionIsAudited(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	f.try(ctx, "alice", "analytics", read, "age")
	f.try(ctx, "alice", "analytics", read, "email")
	f.try(ctx, "carol", "ingest", write, "email")
	res, err := f.s.admin.ReadAudit(ctx, connect.NewRequest(&fvv1.ReadAuditRequest{Tail: 4}))
	if err != nil {
		t.Fatal(err)
	}
	recs := res.Msg.Records
	type rec struct{ principal, action, allowed, denied, outcome string }
	var got []rec
	for _, r := range recs[:3] { // the fourth is this ReadAudit call
		got = append(got, rec{r.Principal, r.Action, strings.Join(r.Allowed, ","), strings.Join(r.Denied, ","), r.Outcome})
	}
	want := []rec{
		{"alice", "read", "age", "", "ok"},
		{"alice", "read", "", "email", "ok"},
		{"carol", "write", "", "email", "permission_denied"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit records = %v, want %v", got, want)
	}
	for _, r := range recs {
		if s := fmt.Sprint(r); strings.Contains(s, "c-1") || strings.Contains(s, "c-9") || strings.Contains(s, "a@example.com") {
			t.Errorf("audit record holds an entity key or value: %v", r)
		}
	}
	v, err := f.s.admin.VerifyAudit(ctx, connect.NewRequest(&fvv1.VerifyAuditRequest{}))
	if err != nil || !v.Msg.Ok || v.Msg.Records < 20 {
		t.Errorf("verify = %v, %v; want ok over the whole log", v, err)
	}
}

func TestWritersMayReadTheSchemaOfTheirView(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	get := func(who, purpose string) error {
		_, err := f.adminAs(who, purpose).GetFeatureView(ctx, connect.NewRequest(&fvv1.GetFeatureViewRequest{Name: "profile"}))
		return err
	}
	if err := get("carol", "ingest"); err != nil {
		t.Errorf("writer carol: %v, want the schema", err)
	}
	if err := get("alice", "analytics"); err != nil {
		t.Errorf("reader alice: %v, want the schema", err)
	}
	if err := get("ivan", "analytics"); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("ivan, with no rights on the view: %v, want PermissionDenied", err)
	}
	if err := get("carol", ""); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("carol stating no purpose (an admin call then): %v, want PermissionDenied", err)
	}
}

func TestReadWithEveryColumnDeniedStillChecksItsInput(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	_, err := f.feature("ivan", "analytics").GetOnlineFeatures(t.Context(), connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile"}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "no entity keys") {
		t.Errorf("all-denied read without keys: %v, want InvalidArgument saying it names no entity keys", err)
	}
}
