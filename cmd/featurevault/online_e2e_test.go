package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/redistest"
)

// TestServeOnlineThroughRedisCluster runs the quickstart through a server
// started with --online on a real Redis Cluster: reads come back the same,
// materialize and online status work, and an erased subject is gone from
// every node and from every answer.
func TestServeOnlineThroughRedisCluster(t *testing.T) {
	t.Parallel()
	c := redistest.Start(t)
	dir := t.TempDir()
	server, _ := startServer(t, dir, "--online", c.URL())
	cli(t, server, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, server, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))

	get := func() string {
		return cli(t, server, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7", "--features", "email", "-o", "json")
	}
	first, second := get(), get() // the writes copied the rows to Redis: both are hits
	for _, want := range []string{`"email":{"value":"a@example.com","status":"PRESENT"}`, `"email":{"value":"b@example.org","status":"PRESENT"}`} {
		if !strings.Contains(first, want) || !strings.Contains(second, want) {
			t.Errorf("get through the tier: got %q then %q, want both to contain %q", first, second, want)
		}
	}
	var status struct {
		Enabled      bool   `json:"enabled"`
		ClusterState string `json:"cluster_state"`
		Hits, Misses int
		OutboxDepth  int `json:"outbox_depth"`
	}
	if err := json.Unmarshal([]byte(cli(t, server, nil, "online", "status", "-o", "json")), &status); err != nil {
		t.Fatal(err)
	}
	if !status.Enabled || status.ClusterState != "ok" || status.Hits != 4 || status.Misses != 0 || status.OutboxDepth != 0 {
		t.Errorf("online status = %+v, want enabled, cluster_state ok, 4 hits, no misses, empty outbox", status)
	}
	// Three entities (c-42 has two rows; its latest is the one copied).
	if out := cli(t, server, nil, "materialize", "--view", "customer_profile", "--progress", "never"); !strings.HasPrefix(out, "materialized 3 rows of view customer_profile") {
		t.Errorf("materialize output = %q, want 3 rows", out)
	}
	if out, err := cliErr(t, server, nil, "materialize", "--view", "no_such_view", "--progress", "never"); err == nil || !strings.Contains(err.Error(), "no_such_view") {
		t.Errorf("materialize of an unknown view: got %q, %v; want an error naming it", out, err)
	}

	keysBefore := 0
	for _, n := range c.Nodes {
		ks, err := n.Keys()
		if err != nil {
			t.Fatal(err)
		}
		keysBefore += len(ks)
	}
	cli(t, server, nil, "erase", "--entity", "customer", "--key", "c-42")
	after := get()
	if strings.Contains(after, "a@example.com") || !strings.Contains(after, "b@example.org") {
		t.Errorf("get after erasing c-42: %q, want c-42 NOT_FOUND and c-7 present", after)
	}
	// c-42's key is gone from its primary and (asynchronously) its replica:
	// one key per view on two nodes.
	keysAfter := 0
	for _, n := range c.Nodes {
		ks, err := n.Keys()
		if err != nil {
			t.Fatal(err)
		}
		keysAfter += len(ks)
	}
	if keysAfter >= keysBefore {
		t.Errorf("keys in Redis: %d before the erasure, %d after; want fewer", keysBefore, keysAfter)
	}
}
