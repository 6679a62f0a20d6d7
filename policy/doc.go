// Package policy decides, for every column of every request, whether the
// caller may see it: principals and their bearer tokens, a Casbin RBAC
// policy with column tags as resource groups, and cached column decisions.
// It knows nothing of Connect or Cobra; rpc and cmd wire it in.
//
// # Requests and rules
//
// A request is the tuple (principal, object, action, purpose, environment).
// The object is a column, "VIEW.FIELD"; the action is read (individual
// values), aggregate (differentially private aggregates only), write or
// admin; the purpose is why the caller asks ("training") and the
// environment where it runs ("prod").
//
// A Rule gives a role an action on an object for a purpose in an
// environment, or, with Deny, takes it away. A rule's object names one
// column ("customer_profile.income"), every column of a view
// ("customer_profile.*"), every column carrying a tag, in any view
// ("tag:pii"), or everything ("*"); its purpose and environment are a name
// or "*". The Casbin model (ModelText) reads
//
//	r = sub, obj, act, purpose, env
//	p = sub, obj, act, purpose, env, eft
//	g = _, _     principal -> role, role -> inherited role
//	g2 = _, _    column -> VIEW.*, column -> tag:TAG
//	e = some(where (p.eft == allow)) && !some(where (p.eft == deny))
//	m = r.act == p.act && (p.purpose == "*" || p.purpose == r.purpose) &&
//	    (p.env == "*" || p.env == r.env) &&
//	    (p.obj == "*" || g2(r.obj, p.obj)) && g(r.sub, p.sub)
//
// so a request is allowed only if some allow rule matches and no deny rule
// does: deny by default, and a deny beats every allow, including allows
// granted to a role that inherits the denied one. A principal may hold
// aggregate on a column without read.
//
// Tags and view wildcards are Casbin resource groups (g2), not patterns:
// SyncView, called whenever a view is applied, links each column to
// "VIEW.*" and to "tag:TAG" for each of its tags. The matcher therefore
// only compares strings and walks the role graphs — no keyMatch, regexMatch
// or eval — so a rule means exactly its tuple, and a decision depends only
// on the request's strings, which is what makes it cacheable. Decide
// refuses a column whose tags the policy has not been told (ErrViewNotSynced)
// rather than decide it without its tag rules: a deny on tag:pii must never
// be escaped by a column tagged after the last sync.
//
// # Purpose and environment
//
// A principal's attributes may list the purposes it may claim
// (AttrPurpose) and the environments it may act in (AttrEnv). Decide
// refuses a request outside them with ErrPurposeNotAllowed or
// ErrEnvNotAllowed before any rule is consulted: rules say what a purpose
// allows, attributes say who may claim it. The attributes are read from the
// stored principal, never from the caller.
//
// # Names
//
// Every principal, role, view, field, tag, purpose, environment and
// attribute that reaches a rule or a request is validated first
// (store.ValidateName's patterns: lower-case letter, then a-z, 0-9, _;
// tags also '.' and '-'; at most 63 bytes). Commas, quotes, newlines,
// spaces, ':', '*', '(' and every other character of Casbin or CSV syntax
// are refused with ErrInvalidName, naming the name and the character. A
// rule is therefore always the tuple its author meant: no name can add a
// rule, widen one or break its parsing. "*" is accepted only as a whole
// rule object, purpose or environment. Principals appear in Casbin as
// "user:NAME", a form no role name can take, so principal "admin" is not
// role "admin" unless assigned it. Rules are stored as JSON arrays, never
// as CSV lines, and every stored rule is validated again when it is
// loaded (ErrStoreDamaged otherwise).
//
// # Tokens
//
// CreatePrincipal returns a bearer token, "fvt_" and 256 random bits in
// base64url, shown once. The store keeps only its SHA-256 (a fast hash is
// right for a full-entropy secret), as an index key and in the principal's
// record; Authenticate hashes the presented token, looks it up, compares it
// with the record's hashes in constant time and checks the principal is
// active. An index entry the record does not list grants nothing. Errors
// are ErrUnauthenticated and never echo the token.
//
// With Options.WithJWTKeyset, IssueJWT signs short-lived ES256 JWTs with a
// Tink keyset (the subject is the principal's name; a claim binds it to the
// principal's random record id) and Authenticate verifies them too.
// Neither kind of token carries roles or attributes: both are resolved
// from the store on every use, so RevokePrincipal stops a principal's tokens
// and JWTs on the next call. Names are never reused after revocation.
//
// # Decisions and caching
//
// Decide answers for a list of columns of one view with per-column
// verdicts and the rule that decided each (Casbin EnforceEx), for the
// audit log and for Explain. It computes the verdicts for every column of
// the view once per (principal, view, action, purpose, environment) and
// caches them, tagged with the policy version. Every change — grant,
// revoke, role assignment, role inheritance, principal creation or
// revocation, a view sync that changes links — increments the version and
// clears the cache, so the next Decide sees it. A cache hit takes no write
// lock and allocates only its result slices (well under a microsecond for
// 50 columns); a miss costs one EnforceEx per column of the view.
//
// # Storage
//
// State lives in the kv.Store under "p/": "p/principal/NAME" (JSON record
// with token hashes), "p/token/HEX" (hash -> name) and "p/rule/PTYPE,V,..."
// (one key per Casbin rule; see Adapter), and "p/idmap/HEX" (one identity
// mapping of an OIDC claim or a client certificate, see IdentityMapping).
// Each change commits as one atomic
// kv batch before it is applied in memory. An Engine assumes it is the only
// writer of its store's "p/" keys; servers sharing a store call Reload when
// another reports a change.
package policy
