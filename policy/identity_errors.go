package policy

import "errors"

// Errors of identity mappings (identities.go). The rpc package maps
// ErrInvalidMapping to InvalidArgument, ErrMappingExists to
// AlreadyExists, ErrMappingNotFound to NotFound and ErrUnmappedIdentity
// to PermissionDenied: the caller proved who it is, but that identity has
// no access here.
var (
	// ErrInvalidMapping: an identity mapping is malformed (no or several
	// targets, an issuer that is not an https URL, an unknown certificate
	// claim, a value that is not a SPIFFE ID).
	ErrInvalidMapping = errors.New("policy: invalid identity mapping")

	// ErrMappingExists: the claim value is already mapped to another
	// principal.
	ErrMappingExists = errors.New("policy: identity already mapped")

	// ErrMappingNotFound: UnmapIdentity named no stored mapping.
	ErrMappingNotFound = errors.New("policy: identity mapping not found")

	// ErrUnmappedIdentity: a verified external identity (an OIDC token, a
	// client certificate) maps to no principal, or to several.
	ErrUnmappedIdentity = errors.New("policy: the identity maps to no principal")
)
