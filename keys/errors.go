package keys

import "errors"

// Sentinel errors. Functions wrap them with %w and add what to fix; test with
// errors.Is. No error from this package contains key material, a raw entity
// key or a token: at most an entity name, a blind index or a file path.
var (
	// ErrNoKeys: the keystore holds no KEK and Options.WithCreate(false) forbids
	// making one (the store says so when it already holds data).
	ErrNoKeys = errors.New("keys: keystore holds no KEK but data exists; refusing to create a fresh KEK over existing data; restore the keystore directory")

	// ErrSubjectNotFound: the subject has no key (never created, or erased).
	ErrSubjectNotFound = errors.New("keys: subject has no key (never written, or erased)")

	// ErrNoKMSURI: Options carry no KMS URI.
	ErrNoKMSURI = errors.New("keys: no KMS URI; set one with Options.WithKMSURI, e.g. local:///var/lib/featurevault/root.json")

	// ErrUnsupportedKMS: no client handles the KMS URI's scheme.
	ErrUnsupportedKMS = errors.New("keys: unsupported KMS URI scheme")

	// ErrRootUnavailable: the KMS could not provide the root AEAD (local root
	// file missing or corrupt, remote KMS unreachable).
	ErrRootUnavailable = errors.New("keys: root key unavailable")

	// ErrKEKUnwrap: the root key cannot decrypt the stored KEK: it is not the
	// root key this keystore was created under.
	ErrKEKUnwrap = errors.New("keys: the KEK cannot be unwrapped by the root key")

	// ErrKeystoreDamaged: the keystore's layout is inconsistent (for example,
	// subject keys without a KEK).
	ErrKeystoreDamaged = errors.New("keys: keystore is damaged")

	// ErrSubjectUnwrap: a stored subject key does not decrypt under the KEK with
	// its subject's associated data: it was moved from another subject's slot,
	// altered, or wrapped by a KEK version that has been retired.
	ErrSubjectUnwrap = errors.New("keys: subject key cannot be unwrapped")

	// ErrClosed: the Keyring has been closed.
	ErrClosed = errors.New("keys: keyring is closed")

	// ErrBusy: another key operation (rotation, rewrap, retirement, root
	// rotation) is running; try again when it has finished.
	ErrBusy = errors.New("keys: another key operation (rotate, rewrap, retire or rotate-root) is running; try again when it has finished")

	// ErrVersionNotFound: the KEK has no such version.
	ErrVersionNotFound = errors.New("keys: the KEK has no such version")

	// ErrVersionInUse: a KEK version cannot be retired because it is the
	// primary or still wraps stored keys.
	ErrVersionInUse = errors.New("keys: the KEK version is still in use")

	// ErrInvalidArgument: a caller passed an unusable argument (e.g. an empty
	// entity name or bad Options).
	ErrInvalidArgument = errors.New("keys: invalid argument")
)
