package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/featurevault/featurevault/kv"
)

// Rule keys. Each Casbin rule is one key,
//
//	p/rule/PTYPE,V0,V1,...   ->  JSON ["PTYPE","V0","V1",...]
//
// Every value is a validated name (or "*", "VIEW.*", "tag:TAG",
// "user:NAME"), none of which can contain a comma, so the key is unique per
// rule and a prefix scan on "p/rule/PTYPE," finds exactly one policy type.
// The value repeats the rule so that loading never parses CSV: a rule is
// handed to Casbin as the array it was stored as, and a key that does not
// match its value is reported as damage.
var prefixRule = []byte("p/rule/")

func ruleKey(ptype string, rule []string) []byte {
	n := len(prefixRule) + len(ptype)
	for _, v := range rule {
		n += 1 + len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, prefixRule...)
	b = append(b, ptype...)
	for _, v := range rule {
		b = append(b, ',')
		b = append(b, v...)
	}
	return b
}

func rulePrefix(ptype string) []byte {
	return append(append(bytes.Clone(prefixRule), ptype...), ',')
}

func ruleSetOp(ptype string, rule []string) (kv.Op, error) {
	v, err := json.Marshal(append([]string{ptype}, rule...))
	if err != nil {
		return kv.Op{}, fmt.Errorf("policy: encode rule: %w", err)
	}
	return kv.Op{Key: ruleKey(ptype, rule), Value: v}, nil
}

func ruleDeleteOp(ptype string, rule []string) kv.Op {
	return kv.Op{Key: ruleKey(ptype, rule), Delete: true}
}

// decodeRule reads a stored rule and checks it against its key and the
// naming rules.
func decodeRule(e kv.Entry) (ptype string, rule []string, err error) {
	var arr []string
	if err := json.Unmarshal(e.Value, &arr); err != nil || len(arr) < 2 {
		return "", nil, fmt.Errorf("%w: rule at key %q does not decode", ErrStoreDamaged, e.Key)
	}
	ptype, rule = arr[0], arr[1:]
	if !bytes.Equal(ruleKey(ptype, rule), e.Key) {
		return "", nil, fmt.Errorf("%w: rule at key %q does not match its key", ErrStoreDamaged, e.Key)
	}
	if err := checkRule(ptype, rule); err != nil {
		return "", nil, fmt.Errorf("%w: rule at key %q: %v", ErrStoreDamaged, e.Key, err)
	}
	return ptype, rule, nil
}

// checkRule validates a Casbin rule of the given policy type: the shape the
// model expects and every name in it.
func checkRule(ptype string, rule []string) error {
	switch ptype {
	case ptypeRule:
		if len(rule) != 6 {
			return fmt.Errorf("policy: a p rule has 6 values (role, object, action, purpose, env, effect), not %d", len(rule))
		}
		if err := validName(kindRole, rule[0]); err != nil {
			return err
		}
		if err := validObject(rule[1]); err != nil {
			return err
		}
		if _, err := ParseAction(rule[2]); err != nil {
			return err
		}
		if err := validRuleValue(kindPurpose, rule[3]); err != nil {
			return err
		}
		if err := validRuleValue(kindEnv, rule[4]); err != nil {
			return err
		}
		if rule[5] != eftAllow && rule[5] != eftDeny {
			return fmt.Errorf("policy: rule effect %s must be allow or deny", quote(rule[5]))
		}
	case ptypeRole:
		if len(rule) != 2 {
			return fmt.Errorf("policy: a g rule has 2 values (member, role), not %d", len(rule))
		}
		if p, ok := strings.CutPrefix(rule[0], userPrefix); ok {
			if err := validName(kindPrincipal, p); err != nil {
				return err
			}
		} else if err := validName(kindRole, rule[0]); err != nil {
			return err
		}
		if err := validName(kindRole, rule[1]); err != nil {
			return err
		}
	case ptypeGroup:
		if len(rule) != 2 {
			return fmt.Errorf("policy: a g2 rule has 2 values (column, group), not %d", len(rule))
		}
		view, field, ok := strings.Cut(rule[0], ".")
		if !ok || field == Wildcard {
			return fmt.Errorf("policy: g2 member %s must be VIEW.FIELD", quote(rule[0]))
		}
		if err := validObject(rule[0]); err != nil {
			return err
		}
		if tag, ok := strings.CutPrefix(rule[1], "tag:"); ok {
			return validName(kindTag, tag)
		}
		if rule[1] != viewObject(view) {
			return fmt.Errorf("policy: g2 group %s must be %s or tag:TAG", quote(rule[1]), quote(viewObject(view)))
		}
	default:
		return fmt.Errorf("policy: unknown policy type %s; the model has p, g and g2", quote(ptype))
	}
	return nil
}

// Adapter is a Casbin persist.Adapter and persist.BatchAdapter that keeps
// the policy in a kv.Store, one key per rule under "p/rule/". It validates
// every rule it writes or loads (see checkRule), so even a caller driving
// Casbin directly cannot persist a rule with a comma, quote or newline in a
// name, and a damaged store fails LoadPolicy instead of loading half a
// policy.
//
// The Engine opens Casbin with this adapter (LoadPolicy at start) but turns
// Casbin's auto-save off and writes through the same key layout itself, so
// that a change which touches a principal record and rules (CreatePrincipal,
// RevokePrincipal) commits in one atomic kv batch and no storage I/O happens
// while the enforcer is locked. It is exported for tools that inspect or
// migrate a policy with a plain Casbin enforcer.
type Adapter struct {
	s kv.Store
}

var (
	_ persist.Adapter      = (*Adapter)(nil)
	_ persist.BatchAdapter = (*Adapter)(nil)
)

// NewAdapter returns an adapter on s.
func NewAdapter(s kv.Store) *Adapter { return &Adapter{s: s} }

// LoadPolicy implements persist.Adapter: it loads every stored rule into m.
// A rule that does not decode, does not match its key or holds an invalid
// name stops the load with ErrStoreDamaged.
func (a *Adapter) LoadPolicy(m model.Model) error {
	return a.s.Scan(prefixRule, func(e kv.Entry) error {
		ptype, rule, err := decodeRule(e)
		if err != nil {
			return err
		}
		return persist.LoadPolicyArray(append([]string{ptype}, rule...), m)
	})
}

// SavePolicy implements persist.Adapter: it replaces every stored rule with
// the rules in m, atomically.
func (a *Adapter) SavePolicy(m model.Model) error {
	var ops []kv.Op
	keep := map[string]bool{}
	for _, sec := range []string{"p", "g"} {
		for ptype, ast := range m[sec] {
			for _, rule := range ast.Policy {
				if err := checkRule(ptype, rule); err != nil {
					return err
				}
				op, err := ruleSetOp(ptype, rule)
				if err != nil {
					return err
				}
				keep[string(op.Key)] = true
				ops = append(ops, op)
			}
		}
	}
	err := a.s.Scan(prefixRule, func(e kv.Entry) error {
		if !keep[string(e.Key)] {
			ops = append(ops, kv.Op{Key: bytes.Clone(e.Key), Delete: true})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return a.s.Apply(ops)
}

// AddPolicy implements persist.Adapter.
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPolicies(sec, ptype, [][]string{rule})
}

// AddPolicies implements persist.BatchAdapter: all rules or none.
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	if err := checkSection(sec, ptype); err != nil {
		return err
	}
	ops := make([]kv.Op, 0, len(rules))
	for _, rule := range rules {
		if err := checkRule(ptype, rule); err != nil {
			return err
		}
		op, err := ruleSetOp(ptype, rule)
		if err != nil {
			return err
		}
		ops = append(ops, op)
	}
	return a.s.Apply(ops)
}

// RemovePolicy implements persist.Adapter. Removing an absent rule is not an
// error.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePolicies(sec, ptype, [][]string{rule})
}

// RemovePolicies implements persist.BatchAdapter.
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	if err := checkSection(sec, ptype); err != nil {
		return err
	}
	ops := make([]kv.Op, 0, len(rules))
	for _, rule := range rules {
		ops = append(ops, ruleDeleteOp(ptype, rule))
	}
	return a.s.Apply(ops)
}

// RemoveFilteredPolicy implements persist.Adapter: it removes every rule of
// ptype whose values from fieldIndex on equal fieldValues, where an empty
// field value matches anything (Casbin's convention).
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	if err := checkSection(sec, ptype); err != nil {
		return err
	}
	if fieldIndex < 0 {
		return fmt.Errorf("policy: negative field index %d", fieldIndex)
	}
	var ops []kv.Op
	err := a.s.Scan(rulePrefix(ptype), func(e kv.Entry) error {
		_, rule, err := decodeRule(e)
		if err != nil {
			return err
		}
		if matchFilter(rule, fieldIndex, fieldValues) {
			ops = append(ops, kv.Op{Key: bytes.Clone(e.Key), Delete: true})
		}
		return nil
	})
	if err != nil || len(ops) == 0 {
		return err
	}
	return a.s.Apply(ops)
}

func matchFilter(rule []string, fieldIndex int, fieldValues []string) bool {
	for i, v := range fieldValues {
		if v == "" {
			continue
		}
		j := fieldIndex + i
		if j >= len(rule) || rule[j] != v {
			return false
		}
	}
	return true
}

func checkSection(sec, ptype string) error {
	if ptype == "" || sec != ptype[:1] {
		return fmt.Errorf("policy: policy type %s is not in section %s", quote(ptype), quote(sec))
	}
	return nil
}
