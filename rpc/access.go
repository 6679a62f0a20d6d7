package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/store"
)

// Request headers that state what a data request is for.
const (
	// HeaderPurpose states the purpose of a request (training, analytics,
	// ...). A principal may claim only the purposes its purpose attribute
	// lists; rules can be limited to a purpose.
	HeaderPurpose = "Featurevault-Purpose"
	// HeaderStrict, when "true", makes a read fail as a whole with
	// PermissionDenied if any requested column is denied, instead of
	// answering the allowed columns with DENIED for the others.
	HeaderStrict = "Featurevault-Strict"
	// AdminPurpose is the purpose of AdminService calls that state none.
	AdminPurpose = "administration"
)

// caller is who makes a request and what for.
type caller struct {
	principal policy.Principal
	purpose   string
	env       string
	strict    bool
}

// callerOf reads the principal (set by the auth interceptor) and the
// request's purpose and strict mode. Data requests must state a purpose.
func (s *Server) callerOf(ctx context.Context, h http.Header, defaultPurpose string) (caller, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return caller{}, connect.NewError(connect.CodeUnauthenticated, errNoPrincipal)
	}
	c := caller{principal: p, purpose: h.Get(HeaderPurpose), env: s.cfg.env}
	if c.purpose == "" {
		c.purpose = defaultPurpose
	}
	if c.purpose == "" {
		return caller{}, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("the request states no purpose: set the %s header (the CLI's --purpose), e.g. training or analytics", HeaderPurpose))
	}
	if v := h.Get(HeaderStrict); v != "" {
		strict, err := strconv.ParseBool(v)
		if err != nil {
			return caller{}, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s header %q is not a boolean; use true or false", HeaderStrict, v))
		}
		c.strict = strict
	}
	return c, nil
}

// viewFields caches each view's policy field references (names and tags),
// so a data request does not copy the view from the registry. Entries are
// replaced whenever a view is applied through this server.
type viewFields struct {
	mu sync.RWMutex
	m  map[string]*viewInfo
}

type viewInfo struct {
	fields []policy.FieldRef
	names  []string // every field's name, in view order; shared, never modified
	index  map[string]int
}

func (vf *viewFields) get(st *store.Store, view string) (*viewInfo, error) {
	vf.mu.RLock()
	vi := vf.m[view]
	vf.mu.RUnlock()
	if vi != nil {
		return vi, nil
	}
	v, err := st.View(view)
	if err != nil {
		return nil, err
	}
	return vf.put(&v), nil
}

func (vf *viewFields) put(v *store.View) *viewInfo {
	vi := &viewInfo{fields: policy.FieldRefs(v), names: make([]string, len(v.Fields)), index: make(map[string]int, len(v.Fields))}
	for i, f := range v.Fields {
		vi.names[i] = f.Name
		vi.index[f.Name] = i
	}
	vf.mu.Lock()
	if vf.m == nil {
		vf.m = make(map[string]*viewInfo)
	}
	vf.m[v.Name] = vi
	vf.mu.Unlock()
	return vi
}

// clear drops every entry: views applied through another server of a
// shared store are read again.
func (vf *viewFields) clear() {
	vf.mu.Lock()
	vf.m = nil
	vf.mu.Unlock()
}

// columnDecision is the policy's answer for the columns of one request.
// Its slices may be shared with the view cache and with other requests:
// read them, never modify them.
type columnDecision struct {
	names   []string // requested columns, in request order
	allowed []string // the allowed subset, in request order
	denied  []string
	ok      []bool // per name
	rules   []string
}

// decideColumns decides action on the requested features of view (every
// field when none are named), for a request, and counts the decisions in
// the server's telemetry. Unknown features are NotFound.
func (s *Server) decideColumns(ctx context.Context, c caller, view string, features []string, action policy.Action) (*columnDecision, error) {
	cd, err := s.decide(ctx, c, view, features, action)
	if err == nil {
		s.cfg.telemetry.Decided(action, len(cd.allowed), len(cd.denied))
	}
	return cd, err
}

// decide is decideColumns without counting, for questions the server asks
// itself (mayUseView) rather than decisions on a request's data.
func (s *Server) decide(ctx context.Context, c caller, view string, features []string, action policy.Action) (*columnDecision, error) {
	vi, err := s.views.get(s.backend.Store, view)
	if err != nil {
		return nil, err
	}
	refs := vi.fields
	names := features
	if len(features) == 0 {
		names = vi.names
	} else {
		refs = make([]policy.FieldRef, len(features))
		for i, f := range features {
			j, ok := vi.index[f]
			if !ok {
				return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("view %q has no field %q", view, f))
			}
			refs[i] = vi.fields[j]
		}
	}
	d, err := s.backend.Policy.Decide(c.principal, view, refs, action, c.purpose, c.env)
	if err != nil {
		return nil, err
	}
	cd := &columnDecision{names: names, ok: d.Allowed, rules: d.Rule}
	allowed := 0
	for _, ok := range d.Allowed {
		if ok {
			allowed++
		}
	}
	if allowed == len(names) {
		cd.allowed = names // the common case: no copy
		return cd, nil
	}
	cd.allowed = make([]string, 0, allowed)
	cd.denied = make([]string, 0, len(names)-allowed)
	for i, n := range names {
		if d.Allowed[i] {
			cd.allowed = append(cd.allowed, n)
		} else {
			cd.denied = append(cd.denied, n)
		}
	}
	return cd, nil
}

// rule summarises the deciding rules of a decision for the audit log.
func (cd *columnDecision) rule() string {
	var rules []string
	for _, r := range cd.rules {
		if !slices.Contains(rules, r) {
			rules = append(rules, r)
		}
	}
	return strings.Join(rules, " | ")
}

// deniedError is the PermissionDenied answer naming the denied columns.
func deniedError(action policy.Action, view string, denied []string) error {
	return connect.NewError(connect.CodePermissionDenied,
		fmt.Errorf("%s denied on view %q columns %s; `featurevault policy explain` shows which rule decided", action, view, strings.Join(denied, ", ")))
}

// record appends an audit record for a request and its outcome. If the log
// cannot be written the request fails (fail closed): the caller returns the
// error instead of its answer.
func (s *Server) record(ctx context.Context, c caller, procedure string, r audit.Record, outcome error) error {
	r.Principal = c.principal.Name
	r.Auth = authFrom(ctx)
	r.Procedure = auditProcedure(ctx, procedure)
	r.Purpose = c.purpose
	r.Env = c.env
	r.Outcome = "ok"
	if outcome != nil {
		r.Outcome = connect.CodeOf(outcome).String()
	}
	if _, err := s.backend.Audit.Append(context.WithoutCancel(ctx), r); err != nil {
		s.cfg.logger.Error("audit append failed; refusing the request", "procedure", procedure, "error", err)
		return connect.NewError(connect.CodeUnavailable, errors.New("the audit log cannot be written, so the request is refused; the server log has the details"))
	}
	return outcome
}

// recordFailure records that a request already recorded as allowed failed.
// The request has failed either way, so a log write error is only logged.
func (s *Server) recordFailure(ctx context.Context, c caller, procedure string, r audit.Record, failure error) error {
	if err := s.record(ctx, c, procedure, r, failure); connect.CodeOf(err) == connect.CodeUnavailable && connect.CodeOf(failure) != connect.CodeUnavailable {
		s.cfg.logger.Error("could not record a failed request", "procedure", procedure)
	}
	return failure
}

// mayUseView reports whether the caller may read or write some column of
// view, for the purpose the request states (the environment is the
// server's). Any error (no purpose, unknown view) is a no: the caller then
// goes through the admin check.
func (s *Server) mayUseView(ctx context.Context, h http.Header, view string) bool {
	c, err := s.callerOf(ctx, h, "")
	if err != nil {
		return false
	}
	for _, a := range []policy.Action{policy.ActionWrite, policy.ActionRead} {
		if cd, err := s.decide(ctx, c, view, nil, a); err == nil && len(cd.allowed) > 0 {
			return true
		}
	}
	return false
}
