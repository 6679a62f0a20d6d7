package policy

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/fuzzcorpus"
)

// The reference grammar of names and objects, written independently of
// validName and validObject: strict names, tags, and the four object forms.
var (
	refStrict = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	refTag    = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)
	refObject = regexp.MustCompile(`^(\*|tag:[a-z][a-z0-9_.-]{0,62}|[a-z][a-z0-9_]{0,62}\.(\*|[a-z][a-z0-9_]{0,62}))$`)
)

// casbinSyntax is what could change a Casbin rule or matcher if it hid in
// a name: separators, quotes, line breaks, operators, the wildcard and the
// "user:"/"tag:" prefixes' colon.
const casbinSyntax = ",\"'`\n\r\t */\\:;()[]{}=!&|<>#%$@^~+?"

var allKinds = []string{kindPrincipal, kindRole, kindView, kindField, kindTag, kindPurpose, kindEnv, kindAttr, kindAttrValue, kindObject}

// FuzzValidName: validName accepts exactly what the reference pattern of
// its kind matches (tags admit '.' and '-', nothing else does); an accepted
// name holds no Casbin syntax; a refusal is ErrInvalidName and says
// "policy:" first.
func FuzzValidName(f *testing.F) {
	for i, s := range []string{"alice", "team.risk-daily_2", "p, admin, *, read", "g, user:mallory, admin", "eval(r.sub)", "a#b", "*", "a*", "user:admin", "tag:pii", "Admin", "adm\u00efn", "a\x00b", "1abc", "", strings.Repeat("a", 63), strings.Repeat("a", 64)} {
		for k := range allKinds {
			if k == i%len(allKinds) {
				fuzzcorpus.Add(f, uint8(k), s) // one kind per name is committed
			} else {
				f.Add(uint8(k), s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, name string) {
		kind := allKinds[int(k)%len(allKinds)]
		ref := refStrict
		if kind == kindTag {
			ref = refTag
		}
		err := validName(kind, name)
		if want := ref.MatchString(name); (err == nil) != want {
			t.Fatalf("validName(%q, %q) = %v; the reference says valid = %v", kind, name, err, want)
		}
		if err == nil {
			if i := strings.IndexAny(name, casbinSyntax); i >= 0 {
				t.Errorf("valid %s name %q holds %q", kind, name, name[i])
			}
			return
		}
		if !errors.Is(err, ErrInvalidName) || !strings.HasPrefix(err.Error(), "policy: ") {
			t.Errorf("validName error %q: want ErrInvalidName starting with \"policy: \"", err)
		}
	})
}

// FuzzValidObject: validObject accepts exactly "*", "tag:TAG", "VIEW.*"
// and "VIEW.FIELD" of valid names; in an accepted object '*' appears only
// as the whole object or the whole field, ':' only after "tag", '.' once
// between view and field (or inside a tag); nothing else of Casbin's
// syntax appears at all. validRuleValue accepts "*" or a valid name.
func FuzzValidObject(f *testing.F) {
	for _, s := range []string{"*", "v.*", "v.f", "tag:pii", "tag:team.risk-daily", "v.f.g", "v.*x", "*.f", "tag:", "tag:*", "v", "v.", ".f", "v.f, alice", "user:alice", "tag:a,b"} {
		fuzzcorpus.Add(f, s)
	}
	f.Fuzz(func(t *testing.T, obj string) {
		err := validObject(obj)
		if want := refObject.MatchString(obj); (err == nil) != want {
			t.Fatalf("validObject(%q) = %v; the reference says valid = %v", obj, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Errorf("validObject error %v is not ErrInvalidName", err)
			}
		} else {
			rest := obj
			switch {
			case obj == Wildcard:
				rest = ""
			case strings.HasPrefix(obj, "tag:"):
				rest = strings.NewReplacer(".", "", "-", "").Replace(obj[len("tag:"):])
			default:
				view, field, _ := strings.Cut(obj, ".")
				if field == Wildcard {
					field = ""
				}
				rest = view + field
			}
			if i := strings.IndexAny(rest, casbinSyntax+".-"); i >= 0 {
				t.Errorf("valid object %q holds %q outside its syntax", obj, rest[i])
			}
		}
		for _, kind := range []string{kindPurpose, kindEnv} {
			err := validRuleValue(kind, obj)
			if want := obj == Wildcard || refStrict.MatchString(obj); (err == nil) != want {
				t.Errorf("validRuleValue(%q, %q) = %v, want valid = %v", kind, obj, err, want)
			}
		}
	})
}
