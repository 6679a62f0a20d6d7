package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/featurevault/featurevault/kv"
)

// AssignRole gives an active principal a role. Assigning a role it has does
// nothing. The change applies to the next Decide.
func (e *Engine) AssignRole(principal, role string) error {
	if err := validName(kindPrincipal, principal); err != nil {
		return err
	}
	if err := validName(kindRole, role); err != nil {
		return err
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	old := e.principals[principal]
	if old == nil {
		return fmt.Errorf("%w: %s", ErrPrincipalNotFound, quote(principal))
	}
	if old.Revoked {
		return fmt.Errorf("%w: %s cannot be given roles", ErrPrincipalRevoked, quote(principal))
	}
	if slices.Contains(old.roles, role) {
		return nil
	}
	link := []string{userSubject(principal), role}
	op, err := ruleSetOp(ptypeRole, link)
	if err != nil {
		return err
	}
	rec := old.clone()
	rec.roles = sortedSet(append(rec.roles, role))
	return e.commit([]kv.Op{op}, func() error {
		e.principals[principal] = rec
		return e.addRulesLocked([]rulePart{{ptypeRole, link}})
	})
}

// UnassignRole takes a role from a principal; ErrRoleNotAssigned if it does
// not have it directly (an inherited role is removed by
// RemoveRoleInheritance). The change applies to the next Decide.
func (e *Engine) UnassignRole(principal, role string) error {
	if err := validName(kindPrincipal, principal); err != nil {
		return err
	}
	if err := validName(kindRole, role); err != nil {
		return err
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	old := e.principals[principal]
	if old == nil {
		return fmt.Errorf("%w: %s", ErrPrincipalNotFound, quote(principal))
	}
	if !slices.Contains(old.roles, role) {
		return fmt.Errorf("%w: principal %s does not have role %s directly", ErrRoleNotAssigned, quote(principal), quote(role))
	}
	link := []string{userSubject(principal), role}
	rec := old.clone()
	rec.roles = slices.DeleteFunc(rec.roles, func(r string) bool { return r == role })
	return e.commit([]kv.Op{ruleDeleteOp(ptypeRole, link)}, func() error {
		e.principals[principal] = rec
		return e.removeRulesLocked([]rulePart{{ptypeRole, link}})
	})
}

// RoleLink says that Role inherits every rule of Inherits: a principal with
// Role is treated as also having Inherits, transitively (at most 10 levels,
// Casbin's limit; deeper links are ignored, which can only deny).
type RoleLink struct {
	Role     string
	Inherits string
}

// String spells the link as Casbin does: "g, senior_analyst, analyst".
func (l RoleLink) String() string { return "g, " + l.Role + ", " + l.Inherits }

// AddRoleInheritance makes role inherit the rules of parent. Links that
// would form a cycle are refused; adding a link that exists does nothing.
// Deny rules are inherited too, so a deny on parent also binds role.
func (e *Engine) AddRoleInheritance(role, parent string) error {
	if err := validName(kindRole, role); err != nil {
		return err
	}
	if err := validName(kindRole, parent); err != nil {
		return err
	}
	if role == parent {
		return fmt.Errorf("%w: role %s cannot inherit itself", ErrRoleCycle, quote(role))
	}
	link := []string{role, parent}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if e.hasRule(ptypeRole, link) {
		return nil
	}
	e.mu.RLock()
	up, err := e.enf.GetImplicitRolesForUser(parent)
	e.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("policy: resolve the roles %s inherits: %w", quote(parent), err)
	}
	if slices.Contains(up, role) {
		return fmt.Errorf("%w: role %s already inherits %s, so %s cannot inherit %s",
			ErrRoleCycle, quote(parent), quote(role), quote(role), quote(parent))
	}
	op, err := ruleSetOp(ptypeRole, link)
	if err != nil {
		return err
	}
	return e.commitRuleChange(op, rulePart{ptypeRole, link}, true)
}

// RemoveRoleInheritance removes a link AddRoleInheritance made;
// ErrRoleNotAssigned if there is none.
func (e *Engine) RemoveRoleInheritance(role, parent string) error {
	if err := validName(kindRole, role); err != nil {
		return err
	}
	if err := validName(kindRole, parent); err != nil {
		return err
	}
	link := []string{role, parent}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	if !e.hasRule(ptypeRole, link) {
		return fmt.Errorf("%w: role %s does not inherit %s", ErrRoleNotAssigned, quote(role), quote(parent))
	}
	return e.commitRuleChange(ruleDeleteOp(ptypeRole, link), rulePart{ptypeRole, link}, false)
}

// ListRoleInheritance returns every role-to-role link, sorted.
func (e *Engine) ListRoleInheritance() []RoleLink {
	e.mu.RLock()
	links, _ := e.enf.GetNamedGroupingPolicy(ptypeRole)
	e.mu.RUnlock()
	var out []RoleLink
	for _, l := range links {
		if !strings.HasPrefix(l[0], userPrefix) {
			out = append(out, RoleLink{Role: l[0], Inherits: l[1]})
		}
	}
	slices.SortFunc(out, func(a, b RoleLink) int {
		return strings.Compare(a.String(), b.String())
	})
	return out
}
