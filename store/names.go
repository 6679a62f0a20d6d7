package store

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest entity, view, field or tag name, in bytes.
const MaxNameLen = 63

// MaxEntityKeyLen is the longest string entity key, in bytes.
const MaxEntityKeyLen = 256

// ValidateName checks a name that will appear in storage keys, policy
// objects (view.field) and column headers. what says which kind of name it
// is ("entity", "view", "field", "join key" or "tag") and is used in the
// message.
//
// Entity, view, field and join-key names match ^[a-z][a-z0-9_]{0,62}$; tags
// also admit '.' and '-' (^[a-z][a-z0-9_.-]{0,62}$). Commas, quotes, spaces,
// newlines, slashes and upper-case letters are refused, so that policy
// syntax or a key separator can never hide in a name. The error is of kind
// KindInvalid, quotes the name and says which character to change.
func ValidateName(what, name string) error {
	if name == "" {
		return errorf(KindInvalid, "%s name is empty; give it a name such as %s", what, exampleName(what))
	}
	if len(name) > MaxNameLen {
		return errorf(KindInvalid, "%s name %s is %d bytes long; use at most %d", what, quoteName(name), len(name), MaxNameLen)
	}
	if c := name[0]; c < 'a' || c > 'z' {
		return errorf(KindInvalid, "%s name %s must start with a lower-case letter a-z, not %s", what, quoteName(name), describeByte(c))
	}
	tag := what == "tag"
	for i := 1; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			continue
		case tag && (c == '.' || c == '-'):
			continue
		}
		allowed := "a-z, 0-9 and _"
		if tag {
			allowed = "a-z, 0-9, _, . and -"
		}
		return errorf(KindInvalid, "%s name %s has %s at position %d; use only %s, starting with a letter",
			what, quoteName(name), describeByte(c), i+1, allowed)
	}
	return nil
}

func exampleName(what string) string {
	switch what {
	case "entity":
		return "customer"
	case "join key":
		return "customer_id"
	case "view":
		return "customer_profile"
	case "field":
		return "income"
	case "tag":
		return "pii"
	}
	return "customer_profile"
}

// quoteName quotes a name for a message, cut short if it is long: names are
// not secret, but a message should stay readable.
func quoteName(name string) string {
	const max = 2 * MaxNameLen
	if len(name) > max {
		return strconv.Quote(name[:max]) + "..."
	}
	return strconv.Quote(name)
}

func describeByte(c byte) string {
	switch {
	case c == ' ':
		return "a space"
	case c == ',':
		return "a comma"
	case c == '"' || c == '\'' || c == '`':
		return "a quote"
	case c == '\n' || c == '\r':
		return "a newline"
	case c == '\t':
		return "a tab"
	case c == '-':
		return "a hyphen (use _ instead)"
	case c == '.':
		return "a dot (use _ instead)"
	case c == '/':
		return "a slash"
	case c >= 'A' && c <= 'Z':
		return fmt.Sprintf("the upper-case letter %q (use lower case)", c)
	case c >= 0x80:
		return "a non-ASCII character"
	case c < 0x20 || c == 0x7f:
		return "a control character"
	}
	return fmt.Sprintf("the character %q", c)
}

// CanonicalEntityKey checks key against the join-key type of e and returns
// its canonical spelling, the one that is blind-indexed and bound into AAD.
// Two spellings of one subject must never become two subjects, so every
// write and read goes through it.
//
// A string key must be valid UTF-8 of 1 to 256 bytes without control
// characters, and is returned unchanged. An int64 key must be a decimal
// integer in int64 range; it is returned in canonical form ("+042" becomes
// "42").
//
// Errors are of kind KindInvalid and never contain the key: they give its
// length and the byte offset of the problem, so the caller should add the
// key's position in the request.
func CanonicalEntityKey(e *Entity, key string) (string, error) {
	if e == nil {
		return "", errorf(KindInvalid, "entity key checked without an entity")
	}
	if key == "" {
		return "", errorf(KindInvalid, "entity %q key is empty; give the %s of each row", e.Name, e.JoinKey)
	}
	switch e.KeyType {
	case KeyString:
		if len(key) > MaxEntityKeyLen {
			return "", errorf(KindInvalid, "entity %q key is %d bytes long; use at most %d", e.Name, len(key), MaxEntityKeyLen)
		}
		for i := 0; i < len(key); {
			r, size := utf8.DecodeRuneInString(key[i:])
			if r == utf8.RuneError && size <= 1 {
				return "", errorf(KindInvalid, "entity %q key (%d bytes) is not valid UTF-8 at byte offset %d", e.Name, len(key), i)
			}
			if unicode.IsControl(r) {
				return "", errorf(KindInvalid, "entity %q key (%d bytes) has a control character at byte offset %d; remove it", e.Name, len(key), i)
			}
			i += size
		}
		return key, nil
	case KeyInt64:
		n, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			// Never wrap err: strconv.NumError repeats the input.
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return "", errorf(KindInvalid, "entity %q key (%d bytes) is outside the int64 range", e.Name, len(key))
			}
			return "", errorf(KindInvalid, "entity %q key (%d bytes) is not a decimal int64; %s keys are written like 42 or -7", e.Name, len(key), e.JoinKey)
		}
		return strconv.FormatInt(n, 10), nil
	}
	return "", errorf(KindInvalid, "entity %q has unknown key type %s", e.Name, e.KeyType)
}
