package store_test

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/fuzzcorpus"
	"github.com/featurevault/featurevault/store"
)

// The reference patterns ValidateName documents.
var (
	strictName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	tagName    = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)
)

// policySyntax is every character that means something in a Casbin rule,
// a storage key or a CSV header; none may appear in a valid name.
const policySyntax = ",\"'`\n\r\t */\\:;()[]{}=!&|<>#%$@^~+?"

var nameKinds = []string{"entity", "view", "field", "join key", "tag"}

// FuzzValidateName: ValidateName accepts exactly the names its reference
// pattern matches, for every kind; an accepted name holds no policy or key
// syntax ('.' and '-' only in tags); a refusal is ErrInvalid and quotes the
// name (cut short when long) without anything else of the input.
func FuzzValidateName(f *testing.F) {
	for i, s := range []string{"customer_profile", "a", "team.risk-daily_2", "a,b", "p, alice, data1, read", "a\"b", "A", "a\nb", "é", "_a", "1a", "a*", "tag:pii", strings.Repeat("a", 64)} {
		for k := range nameKinds {
			if k == i%len(nameKinds) {
				fuzzcorpus.Add(f, uint8(k), s) // one kind per name is committed
			} else {
				f.Add(uint8(k), s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, name string) {
		what := nameKinds[int(kind)%len(nameKinds)]
		ref := strictName
		if what == "tag" {
			ref = tagName
		}
		err := store.ValidateName(what, name)
		if want := ref.MatchString(name); (err == nil) != want {
			t.Fatalf("ValidateName(%q, %q) = %v; the reference pattern says valid = %v", what, name, err, want)
		}
		if err == nil {
			if i := strings.IndexAny(name, policySyntax); i >= 0 {
				t.Errorf("valid %s name %q holds %q", what, name, name[i])
			}
			if what != "tag" && strings.ContainsAny(name, ".-") {
				t.Errorf("valid %s name %q holds a dot or hyphen", what, name)
			}
			return
		}
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("error %v is not ErrInvalid", err)
		}
		if name != "" && len(name) <= 2*store.MaxNameLen && !strings.Contains(err.Error(), strconv.Quote(name)) {
			t.Errorf("error %q does not quote the name %q", err, name)
		}
	})
}

// FuzzCanonicalEntityKey: the canonical spelling is a fixed point (one
// subject, one spelling); string keys come back unchanged and hold no
// control character or invalid UTF-8; int64 keys come back as the decimal
// of the same number; errors are ErrInvalid and never contain the key.
func FuzzCanonicalEntityKey(f *testing.F) {
	for i, s := range []string{"c-42", "+042", "-0", "9223372036854775808", "\xff", "a\x00b", "a\u2028", " 1", "1_000", ""} {
		fuzzcorpus.Add(f, i%2 == 1, s) // one key type per key is committed
		f.Add(i%2 == 0, s)
	}
	entity := func(intKey bool) *store.Entity {
		e := &store.Entity{Name: "customer", JoinKey: "customer_id", KeyType: store.KeyString}
		if intKey {
			e.KeyType = store.KeyInt64
		}
		return e
	}
	// The messages' own words: a key that is one of them may appear in a
	// message without having leaked.
	var templates strings.Builder
	for _, k := range []string{"", strings.Repeat("x", 300), "\xff", "a\x01", "x", "99999999999999999999"} {
		for _, intKey := range []bool{false, true} {
			if _, err := store.CanonicalEntityKey(entity(intKey), k); err != nil {
				templates.WriteString(err.Error() + "\n")
			}
		}
	}
	f.Fuzz(func(t *testing.T, intKey bool, key string) {
		e := entity(intKey)
		got, err := store.CanonicalEntityKey(e, key)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if len(key) >= 8 && strings.Contains(err.Error(), key) && !strings.Contains(templates.String(), key) {
				t.Errorf("error %q contains the key", err)
			}
			return
		}
		again, err := store.CanonicalEntityKey(e, got)
		if err != nil || again != got {
			t.Fatalf("canonical %q of %q is not canonical: %q, %v", got, key, again, err)
		}
		if !intKey {
			if got != key {
				t.Errorf("string key %q came back as %q", key, got)
			}
			return
		}
		n, perr := strconv.ParseInt(key, 10, 64)
		if perr != nil || got != strconv.FormatInt(n, 10) {
			t.Errorf("int64 key %q canonical %q, want the decimal of %d (%v)", key, got, n, perr)
		}
	})
}
