package policy

import (
	"fmt"
	"slices"
	"strings"
)

// RuleDefaultDeny is the rule reported for a request no rule allowed.
const RuleDefaultDeny = "default deny"

// Decision is the verdict on each requested column of one view, for one
// principal, action, purpose and environment.
type Decision struct {
	Principal string
	View      string
	Action    Action
	Purpose   string
	Env       string
	// Allowed[i] says whether the action is allowed on the i-th requested
	// field.
	Allowed []bool
	// Rule[i] is the rule that decided field i, as Casbin spells it ("p,
	// analyst, tag:pii, read, *, *, deny"), or RuleDefaultDeny. For the
	// audit log and for Explain.
	Rule []string
	// Version is the policy version the decision was made at.
	Version uint64
}

// AllAllowed reports whether every requested field is allowed (strict mode
// fails the whole request otherwise).
func (d Decision) AllAllowed() bool { return !slices.Contains(d.Allowed, false) }

// Verdict is the decision on one object and action.
type Verdict struct {
	Action  Action
	Allowed bool
	Rule    string // as in Decision.Rule
	Version uint64 // policy version
}

// Decide returns, for each of fields, whether principal p may do action on
// it, with the rule that decided. It is the one question every data path
// asks: GetOnlineFeatures (read), Aggregate (aggregate), WriteFeatures
// (write on each written column).
//
// The request is refused with an error, not a Decision, when purpose or env
// is not a valid name (ErrInvalidName), when p is not an active principal
// (ErrUnauthenticated), when p may not claim purpose (ErrPurposeNotAllowed)
// or env (ErrEnvNotAllowed), and when a field is unknown to the policy or
// its tags differ from those SyncView registered (ErrViewNotSynced).
//
// Decisions are cached per (principal, view, action, purpose, env) at the
// current policy version, covering every column of the view; any change to
// rules, roles, principals or view groups starts a new version, so a revoke
// applies to the next call. A cache hit takes no write lock and allocates
// only the two result slices.
//
// Decide trusts p.Name: pass only a Principal returned by Authenticate or
// Principal. The purpose and environment attributes are read from the
// stored principal, not from p.
func (e *Engine) Decide(p Principal, view string, fields []FieldRef, action Action, purpose, env string) (Decision, error) {
	if p.Revoked {
		return Decision{}, ErrUnauthenticated
	}
	if err := p.mayStatePurpose(purpose); err != nil {
		return Decision{}, err
	}
	key := cacheKey{principal: p.Name, idpRoles: strings.Join(p.IdPRoles, ","), view: view, purpose: purpose, env: env, action: action}
	vd := e.cache.get(key, e.version.Load())
	if vd == nil {
		var err error
		if vd, err = e.decideView(key); err != nil {
			return Decision{}, err
		}
	}
	return vd.project(&key, fields)
}

// decideView computes and caches the verdicts on every column of a view.
func (e *Engine) decideView(k cacheKey) (*viewDecision, error) {
	if err := validName(kindView, k.view); err != nil {
		return nil, err
	}
	if !k.action.valid() {
		return nil, fmt.Errorf("%w, not %s", ErrInvalidAction, quote(string(k.action)))
	}
	if err := validClaim(k.purpose, k.env); err != nil {
		return nil, err
	}
	e.mu.RLock()
	vd, err := e.decideViewLocked(k)
	e.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	e.cache.put(k, vd, e.version.Load)
	return vd, nil
}

func (e *Engine) decideViewLocked(k cacheKey) (*viewDecision, error) {
	rec := e.principals[k.principal]
	if rec == nil || rec.Revoked {
		return nil, ErrUnauthenticated
	}
	if err := rec.mayClaim(k.purpose, k.env); err != nil {
		return nil, err
	}
	vf := e.views[k.view]
	if vf == nil {
		vf = newViewFields(nil, nil)
	}
	vd := &viewDecision{
		version: e.version.Load(),
		fields:  vf,
		allowed: make([]bool, len(vf.names)),
		rules:   make([]string, len(vf.names)),
	}
	subs := subjects(k.principal, k.idpRoles)
	for i, f := range vf.names {
		ok, rule, err := e.enforceSubjectsLocked(subs, fieldObject(k.view, f), k.action, k.purpose, k.env)
		if err != nil {
			return nil, err
		}
		vd.allowed[i], vd.rules[i] = ok, rule
	}
	return vd, nil
}

// enforceLocked asks Casbin, with the matched rule; e.mu is held.
func (e *Engine) enforceLocked(sub, obj string, act Action, purpose, env string) (bool, string, error) {
	ok, explain, err := e.enf.EnforceEx(sub, obj, string(act), purpose, env)
	if err != nil {
		return false, "", fmt.Errorf("policy: enforce: %w", err)
	}
	if len(explain) == 0 {
		// An allow always names its rule; anything else is a default deny.
		return false, RuleDefaultDeny, nil
	}
	return ok, "p, " + strings.Join(explain, ", "), nil
}

// subjects returns the Casbin subjects a request is decided for: the
// principal, then each role its identity provider granted (idpRoles,
// comma-separated). A role as a subject matches the rules of that role
// and of the roles it inherits.
func subjects(principal, idpRoles string) []string {
	subs := []string{userSubject(principal)}
	if idpRoles != "" {
		subs = append(subs, strings.Split(idpRoles, ",")...)
	}
	return subs
}

// enforceSubjectsLocked decides for several subjects as one: a deny rule
// matched for any of them denies, else an allow for any of them allows,
// else the default deny. With one subject it is enforceLocked.
func (e *Engine) enforceSubjectsLocked(subs []string, obj string, act Action, purpose, env string) (bool, string, error) {
	if len(subs) == 1 {
		return e.enforceLocked(subs[0], obj, act, purpose, env)
	}
	allowRule := ""
	for _, sub := range subs {
		ok, rule, err := e.enforceLocked(sub, obj, act, purpose, env)
		if err != nil {
			return false, "", err
		}
		switch {
		case !ok && rule != RuleDefaultDeny:
			return false, rule, nil
		case ok && allowRule == "":
			allowRule = rule
		}
	}
	if allowRule != "" {
		return true, allowRule, nil
	}
	return false, RuleDefaultDeny, nil
}

// mayStatePurpose checks purpose against the narrowing an identity
// provider applied (Principal.Purposes).
func (p *Principal) mayStatePurpose(purpose string) error {
	if p.Purposes == nil || slices.Contains(p.Purposes, purpose) {
		return nil
	}
	if len(p.Purposes) == 0 {
		return fmt.Errorf("%w: the identity provider's token lists no purpose, so principal %s may state none here; ask for the purposes claim in the token",
			ErrPurposeNotAllowed, quote(p.Name))
	}
	return fmt.Errorf("%w: the identity provider's token lets principal %s state %s, not %s",
		ErrPurposeNotAllowed, quote(p.Name), strings.Join(p.Purposes, ", "), quote(purpose))
}

// project picks the requested fields out of a view decision.
func (vd *viewDecision) project(k *cacheKey, fields []FieldRef) (Decision, error) {
	d := Decision{
		Principal: k.principal,
		View:      k.view,
		Action:    k.action,
		Purpose:   k.purpose,
		Env:       k.env,
		Allowed:   make([]bool, len(fields)),
		Rule:      make([]string, len(fields)),
		Version:   vd.version,
	}
	vf := vd.fields
	for i := range fields {
		f := &fields[i]
		j := i
		if j >= len(vf.names) || vf.names[j] != f.Name {
			var ok bool
			if j, ok = vf.index[f.Name]; !ok {
				return Decision{}, fmt.Errorf("%w: view %s field %s is unknown to the policy; call SyncView when the view is applied and at start",
					ErrViewNotSynced, quote(k.view), quote(f.Name))
			}
		}
		if !sameSet(f.Tags, vf.tags[j]) {
			return Decision{}, fmt.Errorf("%w: view %s field %s has tags [%s] but the policy knows [%s]; call SyncView after applying the view",
				ErrViewNotSynced, quote(k.view), quote(f.Name), strings.Join(f.Tags, " "), strings.Join(vf.tags[j], " "))
		}
		d.Allowed[i] = vd.allowed[j]
		d.Rule[i] = vd.rules[j]
	}
	return d, nil
}

// sameSet reports whether a holds the same strings as the sorted,
// duplicate-free b, in any order and with any repetition.
func sameSet(a, b []string) bool {
	if slices.Equal(a, b) {
		return true
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			return false
		}
	}
	return true
}

// validClaim checks a request's purpose and environment: both are required
// and are plain names ("*" is for rules, not requests).
func validClaim(purpose, env string) error {
	if purpose == "" {
		return nameErrorf("the request's purpose is empty; state one such as training (the principal's purpose attribute lists those it may claim)")
	}
	if err := validName(kindPurpose, purpose); err != nil {
		return err
	}
	if env == "" {
		return nameErrorf("the request's environment is empty; state one such as prod")
	}
	return validName(kindEnv, env)
}

// Check decides one action on a whole object rather than on columns: "*"
// (the service: AdminService calls need Check(p, "*", ActionAdmin, ...)) or
// "VIEW.*" (a view as a whole, such as applying or deleting it). Column
// decisions go through Decide, which also applies tag rules. Check is not
// cached; it is meant for administrative calls. Errors are as for Decide.
func (e *Engine) Check(p Principal, object string, action Action, purpose, env string) (Verdict, error) {
	if p.Revoked {
		return Verdict{}, ErrUnauthenticated
	}
	if err := validObject(object); err != nil {
		return Verdict{}, err
	}
	if object != Wildcard && !strings.HasSuffix(object, ".*") {
		return Verdict{}, nameErrorf("Check takes * or VIEW.*, not %s; decide columns with Decide", quote(object))
	}
	if !action.valid() {
		return Verdict{}, fmt.Errorf("%w, not %s", ErrInvalidAction, quote(string(action)))
	}
	if err := validClaim(purpose, env); err != nil {
		return Verdict{}, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	rec := e.principals[p.Name]
	if rec == nil || rec.Revoked {
		return Verdict{}, ErrUnauthenticated
	}
	if err := rec.mayClaim(purpose, env); err != nil {
		return Verdict{}, err
	}
	if err := p.mayStatePurpose(purpose); err != nil {
		return Verdict{}, err
	}
	ok, rule, err := e.enforceSubjectsLocked(subjects(p.Name, strings.Join(p.IdPRoles, ",")), object, action, purpose, env)
	if err != nil {
		return Verdict{}, err
	}
	return Verdict{Action: action, Allowed: ok, Rule: rule, Version: e.version.Load()}, nil
}

// Explanation says, for each column of a view and each action, whether a
// principal may do it and which rule decided: the answer to `policy
// explain`.
type Explanation struct {
	Principal string
	View      string
	Purpose   string
	Env       string
	Fields    []FieldExplanation
}

// FieldExplanation is one column's verdicts, one per action in Actions()
// order.
type FieldExplanation struct {
	Field    string
	Tags     []string
	Verdicts []Verdict
}

// Explain decides every action on every field for principal p, purpose and
// env, through the same path as Decide (so it explains exactly what Decide
// enforces). A nil fields explains every column SyncView registered for the
// view. Errors are as for Decide: a purpose the principal may not claim is
// an error, not a column of denials.
func (e *Engine) Explain(p Principal, view string, fields []FieldRef, purpose, env string) (Explanation, error) {
	if fields == nil {
		e.mu.RLock()
		vf := e.views[view]
		e.mu.RUnlock()
		if vf == nil {
			return Explanation{}, fmt.Errorf("%w: view %s is unknown to the policy; call SyncView when the view is applied and at start",
				ErrViewNotSynced, quote(view))
		}
		fields = make([]FieldRef, len(vf.names))
		for i, n := range vf.names {
			fields[i] = FieldRef{Name: n, Tags: vf.tags[i]}
		}
	}
	x := Explanation{Principal: p.Name, View: view, Purpose: purpose, Env: env, Fields: make([]FieldExplanation, len(fields))}
	for i, f := range fields {
		x.Fields[i] = FieldExplanation{Field: f.Name, Tags: slices.Clone(f.Tags)}
	}
	for _, a := range Actions() {
		d, err := e.Decide(p, view, fields, a, purpose, env)
		if err != nil {
			return Explanation{}, err
		}
		for i := range fields {
			x.Fields[i].Verdicts = append(x.Fields[i].Verdicts, Verdict{Action: a, Allowed: d.Allowed[i], Rule: d.Rule[i], Version: d.Version})
		}
	}
	return x, nil
}
