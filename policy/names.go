package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/featurevault/featurevault/store"
)

// Kinds of names, as they appear in error messages.
const (
	kindPrincipal = "principal"
	kindRole      = "role"
	kindView      = "view"
	kindField     = "field"
	kindTag       = "tag"
	kindPurpose   = "purpose"
	kindEnv       = "environment"
	kindAttr      = "attribute"
	kindAttrValue = "attribute value"
	kindObject    = "object"
)

// Wildcard is the rule value that matches every object, purpose or
// environment. It is accepted only as a whole object, purpose or environment
// of a Rule, never inside a name or in a request.
const Wildcard = "*"

// nameError is an invalid-name error: errors.Is(err, ErrInvalidName) holds,
// and so does errors.Is(err, store.ErrInvalid) when store.ValidateName found
// the problem.
type nameError struct {
	msg   string
	cause error
}

func (e *nameError) Error() string        { return "policy: " + e.msg }
func (e *nameError) Is(target error) bool { return target == ErrInvalidName }
func (e *nameError) Unwrap() error        { return e.cause }

// withContext prefixes an invalid-name error's message with where the name
// was found ("view \"v\"").
func withContext(err error, format string, a ...any) error {
	ne, ok := err.(*nameError)
	if !ok {
		return err
	}
	return &nameError{msg: fmt.Sprintf(format, a...) + ": " + ne.msg, cause: ne.cause}
}

func nameErrorf(format string, a ...any) error {
	return &nameError{msg: fmt.Sprintf(format, a...)}
}

// validName checks one name of the given kind. Every name that reaches a
// Casbin rule or request goes through here first, so that no comma, quote,
// newline, space, '*' or other Casbin syntax can ever hide in one: a rule is
// always exactly the tuple it was meant to be.
//
// Tags follow store.ValidateName's tag pattern (^[a-z][a-z0-9_.-]{0,62}$);
// every other kind its strict pattern (^[a-z][a-z0-9_]{0,62}$).
func validName(kind, name string) error {
	if name == "" {
		return nameErrorf("%s name is empty; give a name such as %s", kind, exampleName(kind))
	}
	// store.ValidateName admits '.' and '-' only when kind is "tag"; every
	// other kind gets the strict pattern.
	if err := store.ValidateName(kind, name); err != nil {
		return &nameError{msg: strings.TrimPrefix(err.Error(), "store: "), cause: err}
	}
	return nil
}

func exampleName(kind string) string {
	switch kind {
	case kindPrincipal:
		return "alice"
	case kindRole:
		return "analyst"
	case kindView:
		return "customer_profile"
	case kindField:
		return "income"
	case kindTag:
		return "pii"
	case kindPurpose:
		return "training"
	case kindEnv:
		return "prod"
	case kindAttr:
		return "purpose"
	}
	return "training"
}

// validRuleValue checks a rule's purpose or environment: a name or "*".
func validRuleValue(kind, v string) error {
	if v == Wildcard {
		return nil
	}
	return validName(kind, v)
}

// validObject checks a rule or request object: "VIEW.FIELD", "VIEW.*",
// "tag:TAG" or "*".
func validObject(obj string) error {
	switch {
	case obj == Wildcard:
		return nil
	case strings.HasPrefix(obj, "tag:"):
		if err := validName(kindTag, obj[len("tag:"):]); err != nil {
			return withContext(err, "object %s", quote(obj))
		}
		return nil
	}
	view, field, ok := strings.Cut(obj, ".")
	if !ok {
		if err := validName(kindObject, obj); err != nil {
			ne := err.(*nameError)
			return &nameError{msg: ne.msg + "; an object is VIEW.FIELD, VIEW.*, tag:TAG or *", cause: ne.cause}
		}
		return nameErrorf("object %s must be VIEW.FIELD, VIEW.*, tag:TAG or *", quote(obj))
	}
	if err := validName(kindView, view); err != nil {
		return withContext(err, "object %s", quote(obj))
	}
	if field == Wildcard {
		return nil
	}
	if err := validName(kindField, field); err != nil {
		return withContext(err, "object %s", quote(obj))
	}
	return nil
}

// validAttrs checks principal attributes: keys and values are strict names,
// values are not empty.
func validAttrs(attrs map[string][]string) error {
	for k, vs := range attrs {
		if err := validName(kindAttr, k); err != nil {
			return err
		}
		if len(vs) == 0 {
			return nameErrorf("attribute %s has no values; give at least one or leave it out", quote(k))
		}
		kind := kindAttrValue
		switch k {
		case AttrPurpose:
			kind = kindPurpose
		case AttrEnv:
			kind = kindEnv
		}
		for _, v := range vs {
			if err := validName(kind, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// quote quotes a name for a message, cut short if it is long.
func quote(s string) string {
	const max = 2 * store.MaxNameLen
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// viewObject and fieldObject spell Casbin objects.
func fieldObject(view, field string) string { return view + "." + field }
func viewObject(view string) string         { return view + ".*" }
func tagObject(tag string) string           { return "tag:" + tag }

// userSubject is a principal's Casbin subject. Roles are bare names and
// principals carry the "user:" prefix, which no role name can contain, so a
// principal can never be mistaken for a role of the same name (principal
// "admin" does not hold role "admin" unless it is assigned).
func userSubject(name string) string { return userPrefix + name }

const userPrefix = "user:"
