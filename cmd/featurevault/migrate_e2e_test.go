package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/pgtest"
	"github.com/featurevault/featurevault/keys/localkms"
)

// TestMigrateQuickstartStoreServesFromPostgres fills an embedded store with
// the quickstart, stops its server, migrates it with --verify, and serves
// the result from PostgreSQL: the rows, the principals' tokens and the
// audit chain all carry over. A second migrate into the same database is
// refused.
func TestMigrateQuickstartStoreServesFromPostgres(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, stop := startServer(t, dir)
	cli(t, srv, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, srv, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	before := cli(t, srv, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7", "-o", "json")
	stop()

	pg := pgtest.URL(t)
	var out bytes.Buffer
	root := newRootCmd(noEnv)
	root.SetArgs([]string{"migrate", "--from", dir, "--to", pg, "--verify"})
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	for _, part := range []string{"data", "keystore", "audit"} {
		if !strings.Contains(out.String(), part+": verified ") {
			t.Errorf("migrate printed %q; want the %s part verified", out.String(), part)
		}
	}

	shared, _ := startServer(t, t.TempDir(), "--store", pg, "--kms", localkms.Prefix+filepath.Join(dir, "kms", "root.json"), "--member-id", "m")
	shared.dir = dir // the bootstrap admin's token
	after := cli(t, shared, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7", "-o", "json")
	if after != before {
		t.Errorf("after the migration get printed\n%s\nbefore it\n%s", after, before)
	}
	if out := cli(t, shared, nil, "audit", "verify"); !strings.Contains(out, "chain intact") {
		t.Errorf("audit verify of the migrated log: %q", out)
	}

	root = newRootCmd(noEnv)
	root.SetArgs([]string{"migrate", "--from", dir, "--to", pg})
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.ExecuteContext(t.Context()); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second migrate into the same database: %v; want a refusal (not empty)", err)
	}
}
