package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/store"
)

// hostileNames are names that, if they reached a Casbin rule unchecked,
// could add a rule, change one, or break its parsing. wantMsg is a part of
// the error message that says what is wrong with the name.
var hostileNames = []struct {
	label   string
	name    string
	wantMsg string
	okTag   bool // a valid tag (tags admit '.' and '-')
	okValue bool // a valid rule purpose or environment ("*")
}{
	{label: "comma", name: "a,b", wantMsg: "comma"},
	{label: "double quote", name: `a"b`, wantMsg: "quote"},
	{label: "single quote", name: "a'b", wantMsg: "quote"},
	{label: "newline", name: "a\nb", wantMsg: "newline"},
	{label: "carriage return", name: "a\rb", wantMsg: "newline"},
	{label: "tab", name: "a\tb", wantMsg: "tab"},
	{label: "space", name: "a b", wantMsg: "space"},
	{label: "policy line", name: "p, admin, *, read", wantMsg: "comma"},
	{label: "grouping line", name: "g, user:mallory, admin", wantMsg: "comma"},
	{label: "matcher call", name: "g(", wantMsg: "'('"},
	{label: "eval", name: "eval(r.sub)", wantMsg: "'('"},
	{label: "comment", name: "a#b", wantMsg: "'#'"},
	{label: "wildcard", name: "*", wantMsg: "start with a lower-case letter", okValue: true},
	{label: "embedded wildcard", name: "a*", wantMsg: "'*'"},
	{label: "user prefix", name: "user:admin", wantMsg: "':'"},
	{label: "tag prefix", name: "tag:pii", wantMsg: "':'"},
	{label: "dot", name: "a.b", wantMsg: "dot", okTag: true},
	{label: "hyphen", name: "a-b", wantMsg: "hyphen", okTag: true},
	{label: "upper case", name: "Admin", wantMsg: "start with a lower-case letter"},
	{label: "non-ASCII", name: "adm\u00efn", wantMsg: "non-ASCII"},
	{label: "NUL", name: "a\x00b", wantMsg: "control character"},
	{label: "leading digit", name: "1abc", wantMsg: "start with a lower-case letter"},
	{label: "empty", name: "", wantMsg: "empty", okValue: true}, // a rule's empty purpose or env means "*"
	{label: "64 bytes", name: strings.Repeat("a", 64), wantMsg: "64 bytes long"},
	{label: "1000 bytes", name: strings.Repeat("b", 1000), wantMsg: "1000 bytes long"},
}

// TestHostileNamesAreRefusedAndChangeNothing feeds every hostile name to
// every entry point that puts a name into a rule or request, and checks
// that each is refused with ErrInvalidName naming the problem, and that the
// stored policy and the enforced rules are unchanged.
func TestHostileNamesAreRefusedAndChangeNothing(t *testing.T) {
	t.Parallel()
	type entry struct {
		label string
		tag   bool // the name is used as a tag
		value bool // the name is used as a rule purpose or environment
		// object: the name starts an object, where "tag:..." is a tag
		// object and so may be valid ("tag:pii" + ".f" is tag "pii.f").
		object bool
		call   func(e *policy.Engine, p policy.Principal, name string) error
	}
	entries := []entry{
		{label: "principal name", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			_, err := e.CreatePrincipal(n, []string{"analyst"}, nil)
			return err
		}},
		{label: "principal role", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			_, err := e.CreatePrincipal("newbie", []string{n}, nil)
			return err
		}},
		{label: "attribute key", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			_, err := e.CreatePrincipal("newbie", nil, map[string][]string{n: {"x"}})
			return err
		}},
		{label: "purpose attribute", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			_, err := e.CreatePrincipal("newbie", nil, map[string][]string{"purpose": {"training", n}})
			return err
		}},
		{label: "env attribute", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			_, err := e.CreatePrincipal("newbie", nil, map[string][]string{"env": {n}})
			return err
		}},
		{label: "assign principal", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.AssignRole(n, "analyst")
		}},
		{label: "assign role", call: func(e *policy.Engine, p policy.Principal, n string) error {
			return e.AssignRole(p.Name, n)
		}},
		{label: "unassign role", call: func(e *policy.Engine, p policy.Principal, n string) error {
			return e.UnassignRole(p.Name, n)
		}},
		{label: "grant role", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.Grant(policy.Rule{Role: n, Action: policy.ActionRead, Object: "v.f"})
		}},
		{label: "grant view", object: true, call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: n + ".f"})
		}},
		{label: "grant view wildcard", object: true, call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: n + ".*"})
		}},
		{label: "grant field", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			if n == "*" {
				return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "v." + n + n})
			}
			return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "v." + n})
		}},
		{label: "grant tag", tag: true, call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "tag:" + n})
		}},
		{label: "grant purpose", value: true, call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "v.f", Purpose: n})
		}},
		{label: "grant env", value: true, call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "v.f", Env: n})
		}},
		{label: "revoke role", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.Revoke(policy.Rule{Role: n, Action: policy.ActionRead, Object: "customer_profile.*"})
		}},
		{label: "inherit role", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.AddRoleInheritance(n, "analyst")
		}},
		{label: "inherit parent", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.AddRoleInheritance("analyst", n)
		}},
		{label: "sync view", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.SyncView(n, []policy.FieldRef{{Name: "f"}})
		}},
		{label: "sync field", call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.SyncView("customer_profile", []policy.FieldRef{{Name: "age"}, {Name: n}})
		}},
		{label: "sync tag", tag: true, call: func(e *policy.Engine, _ policy.Principal, n string) error {
			return e.SyncView("customer_profile", []policy.FieldRef{{Name: "age", Tags: []string{"pii", n}}})
		}},
		{label: "decide view", call: func(e *policy.Engine, p policy.Principal, n string) error {
			_, err := e.Decide(p, n, []policy.FieldRef{{Name: "age"}}, policy.ActionRead, "analytics", "prod")
			return err
		}},
		{label: "decide purpose", call: func(e *policy.Engine, p policy.Principal, n string) error {
			_, err := e.Decide(p, "customer_profile", []policy.FieldRef{{Name: "age"}}, policy.ActionRead, n, "prod")
			return err
		}},
		{label: "decide env", call: func(e *policy.Engine, p policy.Principal, n string) error {
			_, err := e.Decide(p, "customer_profile", []policy.FieldRef{{Name: "age"}}, policy.ActionRead, "analytics", n)
			return err
		}},
		{label: "check object", object: true, call: func(e *policy.Engine, p policy.Principal, n string) error {
			if n == "*" {
				n = "**"
			}
			_, err := e.Check(p, n+".*", policy.ActionAdmin, "analytics", "prod")
			return err
		}},
	}
	for _, en := range entries {
		t.Run(en.label, func(t *testing.T) {
			t.Parallel()
			e, s := newEngine(t, policy.DefaultOptions())
			mustSync(t, e, "customer_profile", []policy.FieldRef{{Name: "age"}, {Name: "email", Tags: []string{"pii"}}})
			mustGrant(t, e, policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "customer_profile.*"})
			p, _ := mustCreate(t, e, "alice", []string{"analyst"}, nil)
			beforeKV, beforeRules := dump(t, s, "p/"), e.ListRules()
			beforeVersion := e.Version()
			for _, h := range hostileNames {
				if (en.tag && h.okTag) || (en.value && h.okValue) || (en.object && strings.HasPrefix(h.name, "tag:")) {
					continue
				}
				err := en.call(e, p, h.name)
				if !errors.Is(err, policy.ErrInvalidName) {
					t.Errorf("%s %q: error = %v, want ErrInvalidName", en.label, h.name, err)
					continue
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "policy: ") || !strings.Contains(msg, h.wantMsg) {
					t.Errorf("%s %q: error %q does not start with \"policy: \" and say %q", en.label, h.name, msg, h.wantMsg)
				}
			}
			if got := dump(t, s, "p/"); !slices.Equal(got, beforeKV) {
				t.Errorf("stored policy changed:\n got %q\nwant %q", got, beforeKV)
			}
			if got := e.ListRules(); !slices.Equal(got, beforeRules) {
				t.Errorf("rules changed: got %v, want %v", got, beforeRules)
			}
			if got := e.Version(); got != beforeVersion {
				t.Errorf("policy version moved from %d to %d", beforeVersion, got)
			}
		})
	}
}

// TestInvalidNameErrorsAreStoreInvalid checks that rpc can map a name error
// with the store's sentinel too.
func TestInvalidNameErrorsAreStoreInvalid(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	err := e.Grant(policy.Rule{Role: "a,b", Action: policy.ActionRead, Object: "*"})
	if !errors.Is(err, policy.ErrInvalidName) || !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Grant(role %q) = %v, want ErrInvalidName and store.ErrInvalid", "a,b", err)
	}
	const want = `policy: role name "a,b" has a comma at position 2; use only a-z, 0-9 and _, starting with a letter`
	if got := err.Error(); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

// TestValidTagsWithDotsAndHyphens checks that the wider tag pattern is
// accepted where tags are expected.
func TestValidTagsWithDotsAndHyphens(t *testing.T) {
	t.Parallel()
	e, _ := newEngine(t, policy.DefaultOptions())
	mustSync(t, e, "v", []policy.FieldRef{{Name: "f", Tags: []string{"pii.email", "gdpr-art9"}}})
	mustGrant(t, e, policy.Rule{Role: "r", Action: policy.ActionRead, Object: "tag:gdpr-art9"})
	p, _ := mustCreate(t, e, "alice", []string{"r"}, nil)
	d, err := e.Decide(p, "v", []policy.FieldRef{{Name: "f", Tags: []string{"gdpr-art9", "pii.email"}}}, policy.ActionRead, "training", "prod")
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if want := "p, r, tag:gdpr-art9, read, *, *, allow"; !d.Allowed[0] || d.Rule[0] != want {
		t.Errorf("Decide = %v by %q, want allowed by %q", d.Allowed[0], d.Rule[0], want)
	}
}
