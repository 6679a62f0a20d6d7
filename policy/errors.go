package policy

import "errors"

// Sentinel errors. Match them with errors.Is; the errors actually returned
// wrap them with a message that says what to fix. No message ever contains a
// token, a token hash or a feature value: they name principals, roles, views,
// fields, tags, purposes and environments, which are not secret.
//
// The rpc package maps them to Connect codes: ErrUnauthenticated to
// Unauthenticated; ErrPurposeNotAllowed and ErrEnvNotAllowed to
// PermissionDenied; ErrInvalidName, ErrInvalidAction, ErrInvalidTTL and
// ErrRoleCycle to InvalidArgument; ErrPrincipalNotFound, ErrRuleNotFound and
// ErrRoleNotAssigned to NotFound; ErrPrincipalExists to AlreadyExists;
// ErrPrincipalRevoked, ErrViewNotSynced and ErrJWTDisabled to
// FailedPrecondition.
var (
	// ErrUnauthenticated: the token is missing, malformed, unknown, expired
	// or belongs to a revoked principal. The message never says which of the
	// last three, so a stolen token cannot be probed, and never repeats the
	// token.
	ErrUnauthenticated = errors.New("policy: unauthenticated: the token is missing, malformed, unknown, expired or revoked")

	// ErrInvalidName: a principal, role, view, field, tag, purpose,
	// environment, attribute or rule object is not a valid name. The
	// wrapping message quotes the name and says which character to change.
	ErrInvalidName = errors.New("policy: invalid name")

	// ErrInvalidAction: an action is not read, aggregate, write, admin or
	// backup.
	ErrInvalidAction = errors.New("policy: invalid action; use read, aggregate, write, admin or backup")

	// ErrPurposeNotAllowed: the principal claimed a purpose its purpose
	// attribute does not list. The message names the purpose and the
	// purposes the principal may claim.
	ErrPurposeNotAllowed = errors.New("policy: purpose not allowed for this principal")

	// ErrEnvNotAllowed: the request's environment is not in the principal's
	// env attribute.
	ErrEnvNotAllowed = errors.New("policy: environment not allowed for this principal")

	// ErrPrincipalExists: CreatePrincipal was given the name of an existing
	// principal, revoked or not. Names are never reused, so that an old JWT
	// or audit record can never be mistaken for a new principal.
	ErrPrincipalExists = errors.New("policy: principal already exists")

	// ErrPrincipalNotFound: no principal has that name.
	ErrPrincipalNotFound = errors.New("policy: principal not found")

	// ErrPrincipalRevoked: the operation needs an active principal.
	ErrPrincipalRevoked = errors.New("policy: principal is revoked")

	// ErrRoleNotAssigned: UnassignRole or RemoveRoleInheritance named a link
	// that does not exist.
	ErrRoleNotAssigned = errors.New("policy: role not assigned")

	// ErrRoleCycle: AddRoleInheritance would make a role inherit itself.
	ErrRoleCycle = errors.New("policy: role inheritance cycle")

	// ErrRuleNotFound: Revoke named a rule that is not in the policy (check
	// ListRules: every field of the rule, including --deny, must match).
	ErrRuleNotFound = errors.New("policy: rule not found")

	// ErrViewNotSynced: a field passed to Decide or Explain is unknown to the
	// policy, or its tags differ from those registered by SyncView. The
	// decision fails closed; call SyncView whenever a view is applied and
	// for every view at start.
	ErrViewNotSynced = errors.New("policy: view not synced")

	// ErrJWTDisabled: IssueJWT was called on an Engine opened without a JWT
	// keyset (Options.WithJWTKeyset).
	ErrJWTDisabled = errors.New("policy: JWTs are not enabled; open the engine WithJWTKeyset")

	// ErrInvalidTTL: a JWT lifetime is not in (0, MaxJWTTTL].
	ErrInvalidTTL = errors.New("policy: invalid JWT lifetime")

	// ErrStoreDamaged: a stored principal, token or rule does not decode or
	// holds an invalid name. Loading stops rather than skipping it.
	ErrStoreDamaged = errors.New("policy: stored policy data is damaged")
)
