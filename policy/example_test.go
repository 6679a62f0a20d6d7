package policy_test

import (
	"fmt"
	"log"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/policy"
)

// Grant rules to a role, then explain what a principal with that role may do
// with each column of a view.
func ExampleEngine_Explain() {
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	e, err := policy.Open(s, policy.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}

	// The view's columns and tags, as applied from the spec.
	fields := []policy.FieldRef{
		{Name: "email", Tags: []string{"pii"}},
		{Name: "age"},
	}
	if err := e.SyncView("customer_profile", fields); err != nil {
		log.Fatal(err)
	}
	for _, r := range []policy.Rule{
		{Role: "analyst", Action: policy.ActionRead, Object: "customer_profile.*", Purpose: "training"},
		{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii", Deny: true},
		{Role: "analyst", Action: policy.ActionAggregate, Object: "tag:pii", Env: "prod"},
	} {
		if err := e.Grant(r); err != nil {
			log.Fatal(err)
		}
	}
	token, err := e.CreatePrincipal("alice", []string{"analyst"}, map[string][]string{"purpose": {"training"}})
	if err != nil {
		log.Fatal(err)
	}
	alice, err := e.Authenticate(token)
	if err != nil {
		log.Fatal(err)
	}

	x, err := e.Explain(alice, "customer_profile", fields, "training", "prod")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range x.Fields {
		for _, v := range f.Verdicts {
			verdict := "deny"
			if v.Allowed {
				verdict = "allow"
			}
			fmt.Printf("%-5s %-9s %-5s %s\n", f.Field, v.Action, verdict, v.Rule)
		}
	}
	// Output:
	// email read      deny  p, analyst, tag:pii, read, *, *, deny
	// email aggregate allow p, analyst, tag:pii, aggregate, *, prod, allow
	// email write     deny  default deny
	// email admin     deny  default deny
	// age   read      allow p, analyst, customer_profile.*, read, training, *, allow
	// age   aggregate deny  default deny
	// age   write     deny  default deny
	// age   admin     deny  default deny
}

// Decide which requested columns a principal may read; a purpose outside
// its purpose attribute is refused.
func ExampleEngine_Decide() {
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	e, err := policy.Open(s, policy.DefaultOptions())
	if err != nil {
		log.Fatal(err)
	}
	fields := []policy.FieldRef{{Name: "email", Tags: []string{"pii"}}, {Name: "age"}}
	if err := e.SyncView("customer_profile", fields); err != nil {
		log.Fatal(err)
	}
	if err := e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "customer_profile.age"}); err != nil {
		log.Fatal(err)
	}
	token, err := e.CreatePrincipal("alice", []string{"analyst"}, map[string][]string{"purpose": {"training"}})
	if err != nil {
		log.Fatal(err)
	}
	alice, err := e.Authenticate(token)
	if err != nil {
		log.Fatal(err)
	}

	d, err := e.Decide(alice, "customer_profile", fields, policy.ActionRead, "training", "prod")
	if err != nil {
		log.Fatal(err)
	}
	for i, f := range fields {
		fmt.Println(f.Name, d.Allowed[i], d.Rule[i])
	}
	_, err = e.Decide(alice, "customer_profile", fields, policy.ActionRead, "marketing", "prod")
	fmt.Println(err)
	// Output:
	// email false default deny
	// age true p, analyst, customer_profile.age, read, *, *, allow
	// policy: purpose not allowed for this principal: principal "alice" may not claim purpose "marketing"; it may claim training
}
