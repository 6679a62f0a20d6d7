package store

import "fmt"

// Kind classifies a store error so that callers (rpc maps them to Connect
// codes) can react without parsing messages.
type Kind int

const (
	// KindInvalid: the input is malformed; the message says what to fix.
	KindInvalid Kind = iota + 1
	// KindNotFound: a named view, entity or field does not exist.
	KindNotFound
	// KindConflict: the input contradicts what is stored (a field type change).
	KindConflict
	// KindCorrupt: stored bytes failed authentication (tampered, moved, or
	// the wrong key); never answered with a value.
	KindCorrupt
)

// Error is the error type of the store. Its message never contains a feature
// value or a raw entity key: entities are named by their position in the
// request, subjects by blind index.
type Error struct {
	Kind Kind
	msg  string
}

func (e *Error) Error() string { return "store: " + e.msg }

// Is matches sentinels by kind, so errors.Is(err, store.ErrNotFound) holds
// for every not-found error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.msg == e.msg || isSentinel(t))
}

func isSentinel(e *Error) bool {
	return e == ErrInvalid || e == ErrNotFound || e == ErrConflict || e == ErrCorrupt
}

// Sentinels for errors.Is.
var (
	ErrInvalid  = &Error{Kind: KindInvalid, msg: "invalid input"}
	ErrNotFound = &Error{Kind: KindNotFound, msg: "not found"}
	ErrConflict = &Error{Kind: KindConflict, msg: "conflicts with the stored definition"}
	ErrCorrupt  = &Error{Kind: KindCorrupt, msg: "stored data failed authentication"}
)

func errorf(k Kind, format string, a ...any) error {
	return &Error{Kind: k, msg: fmt.Sprintf(format, a...)}
}
