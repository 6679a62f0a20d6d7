package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/featurevault/featurevault/kv"
)

// Action is what a request does with a column.
type Action string

// The actions. A principal may hold aggregate on a column without read: it
// then gets differentially private aggregates and never a single value.
const (
	ActionRead      Action = "read"      // individual values
	ActionAggregate Action = "aggregate" // DP aggregates only
	ActionWrite     Action = "write"     // write values
	ActionAdmin     Action = "admin"     // administer (views, policy, keys)
	// ActionBackup streams backups of the whole store; it is decided on "*"
	// only. It is its own action so that a backup job needs no admin right,
	// and an admin without it cannot copy the keystore out: only the
	// bootstrap admin role holds it by default.
	ActionBackup Action = "backup"
)

// Actions returns every action, in the order Explain reports them.
func Actions() []Action {
	return []Action{ActionRead, ActionAggregate, ActionWrite, ActionAdmin}
}

// ParseAction reads an action's spelling ("read", "aggregate", "write",
// "admin", "backup").
func ParseAction(s string) (Action, error) {
	a := Action(s)
	if !a.valid() {
		return "", fmt.Errorf("%w, not %s", ErrInvalidAction, quote(s))
	}
	return a, nil
}

func (a Action) valid() bool {
	switch a {
	case ActionRead, ActionAggregate, ActionWrite, ActionAdmin, ActionBackup:
		return true
	}
	return false
}

// Rule is one policy rule: Role may (or, with Deny, may not) do Action on
// Object for Purpose in Env.
//
// Object is "VIEW.FIELD" (one column), "VIEW.*" (every column of a view),
// "tag:TAG" (every column tagged TAG, in any view) or "*" (everything).
// Purpose and Env are a name or "*"; empty means "*". A deny rule beats
// every allow rule that matches the same request; a request no allow rule
// matches is denied.
type Rule struct {
	Role    string
	Action  Action
	Object  string
	Purpose string
	Env     string
	Deny    bool
}

// String spells the rule as Casbin does, the way Decision.Rule and Explain
// report it: "p, analyst, tag:pii, read, *, *, deny".
func (r Rule) String() string {
	return "p, " + strings.Join(r.normalize().casbin(), ", ")
}

func (r Rule) normalize() Rule {
	if r.Purpose == "" {
		r.Purpose = Wildcard
	}
	if r.Env == "" {
		r.Env = Wildcard
	}
	return r
}

func (r Rule) casbin() []string {
	eft := eftAllow
	if r.Deny {
		eft = eftDeny
	}
	return []string{r.Role, r.Object, string(r.Action), r.Purpose, r.Env, eft}
}

func ruleFromCasbin(v []string) Rule {
	return Rule{Role: v[0], Object: v[1], Action: Action(v[2]), Purpose: v[3], Env: v[4], Deny: v[5] == eftDeny}
}

// check validates every part of a normalized rule.
func (r Rule) check() error {
	if err := validName(kindRole, r.Role); err != nil {
		return err
	}
	if !r.Action.valid() {
		return fmt.Errorf("%w, not %s", ErrInvalidAction, quote(string(r.Action)))
	}
	if err := validObject(r.Object); err != nil {
		return err
	}
	if r.Action == ActionBackup && r.Object != Wildcard {
		return fmt.Errorf("%w: backup applies to the whole store; give it on *, not %s", ErrInvalidAction, quote(r.Object))
	}
	if err := validRuleValue(kindPurpose, r.Purpose); err != nil {
		return err
	}
	return validRuleValue(kindEnv, r.Env)
}

// Grant adds a rule. Every name in it is validated first (ErrInvalidName):
// a rule is stored and enforced as exactly the tuple given. Granting a rule
// that exists does nothing. The change applies to the next Decide.
func (e *Engine) Grant(r Rule) error {
	r = r.normalize()
	if err := r.check(); err != nil {
		return err
	}
	rule := r.casbin()
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.hasRule(ptypeRule, rule) {
		return nil
	}
	op, err := ruleSetOp(ptypeRule, rule)
	if err != nil {
		return err
	}
	return e.commitRuleChange(op, rulePart{ptypeRule, rule}, true)
}

// Revoke removes a rule; every field, Deny included, must match a rule
// ListRules returns (empty Purpose or Env means "*"). A rule that does not
// exist is ErrRuleNotFound, so a mistyped revoke is never mistaken for a
// revoked permission. The change applies to the next Decide.
func (e *Engine) Revoke(r Rule) error {
	r = r.normalize()
	if err := r.check(); err != nil {
		return err
	}
	rule := r.casbin()
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if !e.hasRule(ptypeRule, rule) {
		return fmt.Errorf("%w: %s; list the rules to see what is granted", ErrRuleNotFound, r)
	}
	return e.commitRuleChange(ruleDeleteOp(ptypeRule, rule), rulePart{ptypeRule, rule}, false)
}

// ListRules returns every rule, sorted by role, object, action, purpose,
// environment, allow before deny.
func (e *Engine) ListRules() []Rule {
	e.mu.RLock()
	policy, _ := e.enf.GetNamedPolicy(ptypeRule)
	out := make([]Rule, 0, len(policy))
	for _, v := range policy {
		out = append(out, ruleFromCasbin(v))
	}
	e.mu.RUnlock()
	slices.SortFunc(out, func(a, b Rule) int {
		return cmp.Or(
			cmp.Compare(a.Role, b.Role),
			cmp.Compare(a.Object, b.Object),
			cmp.Compare(a.Action, b.Action),
			cmp.Compare(a.Purpose, b.Purpose),
			cmp.Compare(a.Env, b.Env),
			compareBool(a.Deny, b.Deny),
		)
	})
	return out
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// hasRule reports whether the enforcer holds a rule. The caller holds
// writeMu, so the answer stays true until it commits.
func (e *Engine) hasRule(ptype string, rule []string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var ok bool
	if ptype == ptypeRule {
		ok, _ = e.enf.HasNamedPolicy(ptype, rule)
	} else {
		ok, _ = e.enf.HasNamedGroupingPolicy(ptype, rule)
	}
	return ok
}

// commitRuleChange stores one rule change and applies it in memory.
func (e *Engine) commitRuleChange(op kv.Op, part rulePart, add bool) error {
	return e.commit([]kv.Op{op}, func() error {
		if add {
			return e.addRulesLocked([]rulePart{part})
		}
		return e.removeRulesLocked([]rulePart{part})
	})
}
