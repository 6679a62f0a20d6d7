package audit

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one entry of the audit log: who did what to which view, what the
// policy decided and why, and what came of it.
//
// # What a record may hold
//
// A record describes an access; it never contains the data accessed. Every
// field is metadata the server already knows before reading a value: names
// (principal, procedure, view, columns, purpose, environment), counts, the
// text of a policy rule, a privacy charge and an outcome code. There is no
// field for a feature value, a raw entity key, a token or key material, and
// none must be smuggled into Detail:
//
//   - Subjects are named only by blind index, as lower-case hex
//     (keys.BlindIndex.String()); Append refuses anything else, so a raw
//     entity key cannot be stored there by mistake.
//   - Entities is a count, never a list of keys.
//   - Detail is a short, fixed phrase chosen by the server ("strict mode",
//     "rate limited"), never an error message that could quote input.
//     Append cuts it to MaxDetailLen bytes.
//
// Records are stored MACed but not encrypted: anyone who can read the data
// directory can read the log. That is why the contract above matters.
//
// Seq, Time, PrevHash and Hash are assigned by Append; values a caller sets
// there are ignored.
type Record struct {
	// Seq is the record's position in the log, from 1 with no gaps.
	Seq uint64 `json:"seq"`
	// Time is when Append chained the record (UTC, nanoseconds).
	Time time.Time `json:"time"`
	// Principal is the authenticated caller's name ("" if unauthenticated).
	Principal string `json:"principal"`
	// Action is what was attempted: "read", "write", "aggregate", "erase",
	// or "admin:<operation>" (e.g. "admin:apply_view"). Required.
	Action string `json:"action"`
	// Procedure is the RPC procedure, e.g.
	// "/featurevault.v1.FeatureService/GetOnlineFeatures".
	Procedure string `json:"procedure,omitempty"`
	// View is the feature view the action concerns, if any.
	View string `json:"view,omitempty"`
	// Allowed lists the columns the policy allowed.
	Allowed []string `json:"allowed,omitempty"`
	// Denied lists the columns the policy denied.
	Denied []string `json:"denied,omitempty"`
	// Entities is how many entities the request named (a count, not keys).
	Entities int `json:"entities,omitempty"`
	// Subjects names the subjects an operation targets individually (an
	// erasure receipt), as blind indexes in lower-case hex. Leave it empty
	// for ordinary reads and writes: Entities counts those.
	Subjects []string `json:"subjects,omitempty"`
	// Purpose is the purpose the caller declared.
	Purpose string `json:"purpose,omitempty"`
	// Env is the environment the request was decided in.
	Env string `json:"env,omitempty"`
	// Rule is the text of the policy rule that decided (Casbin EnforceEx
	// explanation), or "" when the default deny decided.
	Rule string `json:"rule,omitempty"`
	// Epsilon and Delta are the differential-privacy budget charged, or 0.
	Epsilon float64 `json:"epsilon,omitempty"`
	Delta   float64 `json:"delta,omitempty"`
	// Outcome is "ok" or the Connect code name of the failure
	// ("permission_denied", "resource_exhausted", ...). Required.
	Outcome string `json:"outcome"`
	// Detail is a short server-chosen phrase; see the contract above.
	Detail string `json:"detail,omitempty"`
	// Auth says how the caller authenticated, never with what: "token"
	// (the store's own bearer token), "jwt" (a JWT the store issued),
	// "oidc ISSUER sub=SUBJECT", "cert SPIFFE-ID" or "cert subject=DN",
	// and "token; cert ..." when a client certificate accompanied a token.
	// Empty for records the server writes on its own account and for
	// records written before it existed. Append cuts it to MaxAuthLen.
	Auth string `json:"auth,omitempty"`
	// PrevHash is the Hash of record Seq-1 (empty for Seq 1).
	PrevHash Digest `json:"prev_hash"`
	// Hash is the MAC of this record's canonical encoding, which includes
	// PrevHash: see the package documentation.
	Hash Digest `json:"hash"`
}

// Limits Append enforces on a record.
const (
	// MaxDetailLen is the longest Detail kept, in bytes; longer ones are cut
	// at a rune boundary.
	MaxDetailLen = 256
	// MaxAuthLen is the longest Auth kept, in bytes.
	MaxAuthLen = 1024
	// MaxRecordLen bounds a record's canonical encoding, in bytes.
	MaxRecordLen = 256 << 10
)

// Digest is a MAC tag (a Tink tag: key-ID prefix and HMAC-SHA256 output). It
// prints and marshals as lower-case hex.
type Digest []byte

// String returns d in hex.
func (d Digest) String() string { return hex.EncodeToString(d) }

// MarshalText implements encoding.TextMarshaler (hex).
func (d Digest) MarshalText() ([]byte, error) {
	return []byte(hex.EncodeToString(d)), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (hex).
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := hex.DecodeString(string(b))
	if err != nil {
		return fmt.Errorf("audit: digest is not hex: %w", err)
	}
	*d = v
	return nil
}

// normalize checks r and returns the form that is stored: strings made valid
// UTF-8 (so that JSON export round-trips byte for byte), Detail cut to
// MaxDetailLen, -0 charges made 0, empty lists nil. Seq, Time and the
// hashes are cleared for Append to assign.
func normalize(r Record) (Record, error) {
	if r.Action == "" {
		return r, fmt.Errorf("%w: Action is required", ErrInvalidRecord)
	}
	if r.Outcome == "" {
		return r, fmt.Errorf("%w: Outcome is required (\"ok\" or a Connect code name)", ErrInvalidRecord)
	}
	if r.Entities < 0 {
		return r, fmt.Errorf("%w: Entities is a count and cannot be negative", ErrInvalidRecord)
	}
	for _, f := range []float64{r.Epsilon, r.Delta} {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return r, fmt.Errorf("%w: Epsilon and Delta must be finite and non-negative", ErrInvalidRecord)
		}
	}
	for i, s := range r.Subjects {
		if !isBlindIndexHex(s) {
			return r, fmt.Errorf("%w: Subjects[%d] is not a blind index (32 lower-case hex digits); never put raw entity keys in an audit record", ErrInvalidRecord, i)
		}
	}
	out := Record{
		Principal: clean(r.Principal),
		Action:    clean(r.Action),
		Procedure: clean(r.Procedure),
		View:      clean(r.View),
		Allowed:   cleanList(r.Allowed),
		Denied:    cleanList(r.Denied),
		Entities:  r.Entities,
		Subjects:  cleanList(r.Subjects),
		Purpose:   clean(r.Purpose),
		Env:       clean(r.Env),
		Rule:      clean(r.Rule),
		Epsilon:   r.Epsilon + 0, // -0 + 0 == +0
		Delta:     r.Delta + 0,
		Outcome:   clean(r.Outcome),
		Detail:    truncate(clean(r.Detail), MaxDetailLen),
		Auth:      truncate(clean(r.Auth), MaxAuthLen),
	}
	return out, nil
}

func clean(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func cleanList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = clean(s)
	}
	return out
}

// truncate cuts valid UTF-8 s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isBlindIndexHex reports whether s is a 16-byte blind index in lower-case
// hex, as keys.BlindIndex.String() prints it.
func isBlindIndexHex(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
