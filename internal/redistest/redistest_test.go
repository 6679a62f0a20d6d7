package redistest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func TestClusterHasThreePrimariesAndThreeReplicas(t *testing.T) {
	c := redistest.Shared(t)
	if got := len(c.Nodes); got != 6 {
		t.Fatalf("nodes: got %d, want 6", got)
	}
	primaries, replicas := 0, 0
	for _, n := range c.Nodes {
		switch n.Role() {
		case "master":
			primaries++
		case "slave":
			replicas++
		}
	}
	if primaries != 3 || replicas != 3 {
		t.Fatalf("roles: got %d primaries and %d replicas, want 3 and 3", primaries, replicas)
	}
	out, err := c.Nodes[0].CLI("-c", "SET", "redistest-key", "v")
	if err != nil || strings.TrimSpace(out) != "OK" {
		t.Fatalf("SET through the cluster: got %q, %v; want OK", out, err)
	}
	found := 0
	for _, n := range c.Nodes {
		keys, err := n.Keys()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k == "redistest-key" {
				found++
			}
		}
	}
	// The key is on its primary and, once replicated, on its replica: at
	// least one node holds it.
	if found == 0 {
		t.Fatalf("no node holds the key just set")
	}
}
