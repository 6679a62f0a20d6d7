package rpc_test

import (
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/client"
)

// TestPolicyDecidesArrowReads reads through the real server and policy as
// alice (pii denied) and bob (everything): denied columns never appear in
// a batch's schema, strict mode fails, and no rule at all is refused.
func TestPolicyDecidesArrowReads(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	columns := func(who, purpose string, strict bool) ([]string, []string, error) {
		c := client.New(http.DefaultClient, f.s.url, client.WithToken(f.tokens[who]), client.WithPurpose(purpose), client.WithStrict(strict))
		r, err := c.ReadBatches(ctx, "profile", client.Read{})
		if err != nil {
			return nil, nil, err
		}
		defer r.Release()
		var names []string
		for _, fld := range r.Schema().Fields() {
			names = append(names, fld.Name)
		}
		rows := 0
		for r.Next() {
			rows += int(r.RecordBatch().NumRows())
		}
		if rows == 0 {
			t.Errorf("%s read no rows", who)
		}
		return names, r.Denied(), r.Err()
	}
	names, denied, err := columns("alice", "analytics", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, pii := range []string{"email", "income"} {
		if slices.Contains(names, pii) {
			t.Errorf("alice's batches hold the denied column %s: %v", pii, names)
		}
		if !slices.Contains(denied, pii) {
			t.Errorf("alice's denied list %v lacks %s", denied, pii)
		}
	}
	if !slices.Contains(names, "age") {
		t.Errorf("alice's batches lack the allowed column age: %v", names)
	}
	if names, _, err := columns("bob", "training", false); err != nil || !slices.Contains(names, "email") {
		t.Errorf("bob: %v, %v; want every column", names, err)
	}
	if _, _, err := columns("alice", "analytics", true); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("alice strict: %v, want PermissionDenied", err)
	}
	if _, _, err := columns("alice", "training", false); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("alice claiming a purpose she may not: %v, want PermissionDenied", err)
	}
	if names, _, err := columns("ivan", "analytics", false); err == nil && len(names) > 2 {
		t.Errorf("ivan, with no rules, read columns %v", names)
	}
}
