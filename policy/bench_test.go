package policy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/featurevault/featurevault/policy"
	"github.com/tink-crypto/tink-go/v2/jwt"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// benchEngine builds a 50-field view (a third of the columns tagged) and a
// policy of about 20 rules in 5 roles, and returns a principal whose
// decision mixes view, tag and column rules, allows and denies.
func benchEngine(b *testing.B, o policy.Options) (*policy.Engine, policy.Principal, []policy.FieldRef) {
	b.Helper()
	e, _ := newEngine(b, o)
	fields := make([]policy.FieldRef, 50)
	tags := []string{"pii", "financial", "health"}
	for i := range fields {
		fields[i].Name = fmt.Sprintf("f%02d", i)
		if i%3 == 0 {
			fields[i].Tags = []string{tags[i%len(tags)]}
		}
	}
	mustSync(b, e, "wide", fields)
	for r := range 4 {
		role := fmt.Sprintf("role%d", r)
		mustGrant(b, e,
			policy.Rule{Role: role, Action: policy.ActionRead, Object: fmt.Sprintf("other%d.*", r)},
			policy.Rule{Role: role, Action: policy.ActionAggregate, Object: "tag:financial", Env: "prod"},
			policy.Rule{Role: role, Action: policy.ActionWrite, Object: fmt.Sprintf("wide.f%02d", r)},
			policy.Rule{Role: role, Action: policy.ActionRead, Object: "tag:health", Purpose: "audit"},
		)
	}
	mustGrant(b, e,
		policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "wide.*", Purpose: "training"},
		policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii", Deny: true},
		policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "wide.f07", Deny: true},
	)
	if err := e.AddRoleInheritance("analyst", "role0"); err != nil {
		b.Fatal(err)
	}
	p, _ := mustCreate(b, e, "alice", []string{"analyst"}, map[string][]string{"purpose": {"training", "analytics"}})
	return e, p, fields
}

// BenchmarkDecideCacheHit50 is the per-request policy cost of a 1 × 50
// online read once the decision is cached.
func BenchmarkDecideCacheHit50(b *testing.B) {
	e, p, fields := benchEngine(b, policy.DefaultOptions())
	if _, err := e.Decide(p, "wide", fields, policy.ActionRead, "training", "prod"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := e.Decide(p, "wide", fields, policy.ActionRead, "training", "prod")
		if err != nil || len(d.Allowed) != 50 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideCacheHit50Parallel is the same under contention from every
// core.
func BenchmarkDecideCacheHit50Parallel(b *testing.B) {
	e, p, fields := benchEngine(b, policy.DefaultOptions())
	if _, err := e.Decide(p, "wide", fields, policy.ActionRead, "training", "prod"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Decide(p, "wide", fields, policy.ActionRead, "training", "prod"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDecideMiss50 is the cost of deciding a 50-column view from
// scratch (after a policy change): 50 Casbin EnforceEx calls.
func BenchmarkDecideMiss50(b *testing.B) {
	e, p, fields := benchEngine(b, policy.DefaultOptions().WithCacheSize(1))
	purposes := []string{"training", "analytics"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := e.Decide(p, "wide", fields, policy.ActionRead, purposes[i%2], "prod"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate is the per-request cost of checking a bearer token.
func BenchmarkAuthenticate(b *testing.B) {
	e, _, _ := benchEngine(b, policy.DefaultOptions())
	_, tok := mustCreate(b, e, "bob", []string{"analyst"}, map[string][]string{"purpose": {"training"}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Authenticate(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateJWT is the per-request cost of verifying an ES256
// JWT (one ECDSA verification).
func BenchmarkAuthenticateJWT(b *testing.B) {
	h, err := keyset.NewHandle(jwt.ES256Template())
	if err != nil {
		b.Fatal(err)
	}
	e, _ := newEngine(b, policy.DefaultOptions().WithJWTKeyset(h))
	mustCreate(b, e, "bob", []string{"analyst"}, nil)
	tok, err := e.IssueJWT("bob", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Authenticate(tok); err != nil {
			b.Fatal(err)
		}
	}
}
