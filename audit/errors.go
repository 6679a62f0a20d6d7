package audit

import "errors"

// Sentinel errors. Functions wrap them with %w and add what to fix; test with
// errors.Is. No error from this package contains a field value of a record
// beyond its sequence number, a key name or a count.
var (
	// ErrInvalidRecord: Append was given a record it will not store (no
	// Action or Outcome, a negative count, a non-finite or negative privacy
	// charge, a subject that is not a blind index, or a record too large).
	ErrInvalidRecord = errors.New("audit: invalid record")

	// ErrInvalidArgument: a caller passed an unusable argument (a nil store
	// or MAC, a zero limit).
	ErrInvalidArgument = errors.New("audit: invalid argument")

	// ErrReadOnly: Append was called on a log opened with WithReadOnly(true).
	ErrReadOnly = errors.New("audit: log opened read-only; appends are refused")

	// ErrHeadMismatch: Open found a head pointer that does not match the
	// stored records (missing, pointing at a record that is not the last, or
	// at a hash the record does not have). Appending could overwrite or
	// orphan evidence, so the log refuses to open for writing; open it with
	// WithReadOnly(true) and run Verify to locate the damage.
	ErrHeadMismatch = errors.New("audit: log head does not match the stored records; open read-only and run verify (featurevault audit verify) to locate the damage")

	// ErrKeyMismatch: the log's last record does not verify under the MAC
	// given to Open: the keyset is not the one the log was written with (or
	// the record was forged). Appending would start a chain nobody can verify.
	ErrKeyMismatch = errors.New("audit: the log's last record does not verify under this MAC key; open it with the keyset it was written with")

	// ErrMalformed: stored bytes under the log's key prefix do not decode as
	// a record or a head pointer.
	ErrMalformed = errors.New("audit: malformed stored record")

	// ErrTampered: Verify found at least one problem; Report.Err wraps it
	// with the first problem's sequence number and kind.
	ErrTampered = errors.New("audit: log failed verification")
)
