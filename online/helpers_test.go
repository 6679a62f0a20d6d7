package online_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/redistest"
	"github.com/featurevault/featurevault/online"
	"github.com/featurevault/featurevault/store"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

const spec = `
entities:
  - name: customer
    join_key: customer_id
    type: string
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: email, type: string}
      - {name: age,   type: int64}
  - name: session
    entity: customer
    ttl: 1h
    fields:
      - {name: page, type: string}
`

// openTier opens a store in dir whose data KV is wrapped by a tier over
// cluster c, with the spec applied.
func openTier(t *testing.T, dir string, c *redistest.Cluster) (*store.Store, *online.Tier) {
	t.Helper()
	return openTierLog(t, dir, c, quietLog)
}

func openTierLog(t *testing.T, dir string, c *redistest.Cluster, log *slog.Logger) (*store.Store, *online.Tier) {
	t.Helper()
	tier := online.New(online.NewClusterClient(c.Seeds()), log)
	o := store.DefaultOptions(dir).WithLogger(quietLog).WithSyncWrites(false).WithDataWrapper(tier.Wrap)
	st, err := store.Open(t.Context(), o)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	sp, err := store.ParseSpec([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ApplySpec(sp); err != nil {
		t.Fatal(err)
	}
	if err := tier.Attach(t.Context(), st); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tier.Close(); _ = st.Close() })
	return st, tier
}

// write stores one profile row per key with email "<marker>-<key>" and age i.
func write(t *testing.T, st *store.Store, marker string, ev time.Time, keys ...string) {
	t.Helper()
	rows := make([]store.Row, len(keys))
	for i, k := range keys {
		rows[i] = store.Row{EntityKey: k, EventTime: ev, Values: map[string]any{"email": marker + "-" + k, "age": int64(i)}}
	}
	if _, err := st.Write(context.Background(), "profile", rows); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// emails reads the email of each key through the tier ("" where absent).
func emails(t *testing.T, tier *online.Tier, keys ...string) []string {
	t.Helper()
	res, err := tier.GetOnline(context.Background(), "profile", keys, []string{"email"})
	if err != nil {
		t.Fatalf("read through the tier: %v", err)
	}
	out := make([]string, len(keys))
	for i, r := range res.Rows {
		if r.Statuses[0] == store.Present {
			out[i] = r.Values[0].(string)
		}
	}
	return out
}

func keysN(prefix string, n int) []string {
	k := make([]string, n)
	for i := range k {
		k[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return k
}

// redisKeysOf returns the keys on every live node that contain sub.
func redisKeysOf(t *testing.T, c *redistest.Cluster, sub string) []string {
	t.Helper()
	var out []string
	for _, n := range c.Nodes {
		if !n.Alive() {
			continue
		}
		ks, err := n.Keys()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if strings.Contains(k, sub) {
				out = append(out, n.Addr+" "+k)
			}
		}
	}
	return out
}
