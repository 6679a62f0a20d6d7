package policy_test

import (
	"bytes"
	"testing"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/policy"
)

// newStore opens an in-memory Badger store closed at the end of the test.
func newStore(t testing.TB) kv.Store {
	t.Helper()
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatalf("OpenBadger: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newEngine opens an Engine on a fresh in-memory store.
func newEngine(t testing.TB, o policy.Options) (*policy.Engine, kv.Store) {
	t.Helper()
	s := newStore(t)
	e, err := policy.Open(s, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return e, s
}

// dump returns every key and value under prefix, as one string per entry.
func dump(t testing.TB, s kv.Store, prefix string) []string {
	t.Helper()
	var out []string
	err := s.Scan([]byte(prefix), func(e kv.Entry) error {
		out = append(out, string(e.Key)+" = "+string(e.Value))
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out
}

// scanFor reports every entry of s whose key or value contains needle.
func scanFor(t testing.TB, s kv.Store, needle []byte) []string {
	t.Helper()
	var hits []string
	err := s.Scan(nil, func(e kv.Entry) error {
		if bytes.Contains(e.Key, needle) || bytes.Contains(e.Value, needle) {
			hits = append(hits, string(e.Key))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return hits
}

func mustCreate(t testing.TB, e *policy.Engine, name string, roles []string, attrs map[string][]string) (policy.Principal, string) {
	t.Helper()
	tok, err := e.CreatePrincipal(name, roles, attrs)
	if err != nil {
		t.Fatalf("CreatePrincipal(%q): %v", name, err)
	}
	p, err := e.Authenticate(tok)
	if err != nil {
		t.Fatalf("Authenticate(new token of %q): %v", name, err)
	}
	return p, tok
}

func mustGrant(t testing.TB, e *policy.Engine, rules ...policy.Rule) {
	t.Helper()
	for _, r := range rules {
		if err := e.Grant(r); err != nil {
			t.Fatalf("Grant(%v): %v", r, err)
		}
	}
}

func mustSync(t testing.TB, e *policy.Engine, view string, fields []policy.FieldRef) {
	t.Helper()
	if err := e.SyncView(view, fields); err != nil {
		t.Fatalf("SyncView(%q): %v", view, err)
	}
}
