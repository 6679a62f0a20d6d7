package online_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/redistest"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/online"
	"github.com/featurevault/featurevault/store"
)

func TestReadsThroughTheTierMatchTheStore(t *testing.T) {
	t.Parallel()
	c := redistest.Shared(t)
	st, tier := openTier(t, t.TempDir(), c)
	ks := keysN("match", 20)
	write(t, st, "old", time.Now().Add(-time.Minute), ks...)
	write(t, st, "new", time.Now(), ks[:10]...)
	want := make([]string, len(ks))
	for i, k := range ks {
		want[i] = "old-" + k
		if i < 10 {
			want[i] = "new-" + k
		}
	}
	read := append(slices.Clone(ks), "match-absent")
	want = append(want, "")
	for pass := range 2 { // the first pass fills from the store on a miss, the second is all hits
		before := tier.Status(t.Context())
		if got := emails(t, tier, read...); !slices.Equal(got, want) {
			t.Fatalf("pass %d: got %q, want %q", pass, got, want)
		}
		after := tier.Status(t.Context())
		if pass == 1 {
			if hits := after.Hits - before.Hits; hits != uint64(len(ks)) {
				t.Errorf("pass 1 hits: got %d, want %d (every written key in Redis)", hits, len(ks))
			}
		}
	}
	// The same answer as the store's own read, field for field.
	res, err := tier.GetOnline(t.Context(), "profile", read, nil)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := st.GetOnline(t.Context(), "profile", read, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range read {
		g, w := res.Rows[i], direct.Rows[i]
		if !g.EventTime.Equal(w.EventTime) || !slices.Equal(g.Statuses, w.Statuses) || !slices.Equal(g.Values, w.Values) {
			t.Errorf("row %d: tier %+v, store %+v", i, g, w)
		}
	}
}

func TestTTLIsHonouredInRedis(t *testing.T) {
	t.Parallel()
	c := redistest.Shared(t)
	st, tier := openTier(t, t.TempDir(), c)
	if _, err := st.Write(t.Context(), "session", []store.Row{
		{EntityKey: "ttl-fresh", EventTime: time.Now().Add(-time.Minute), Values: map[string]any{"page": "a"}},
		{EntityKey: "ttl-stale", EventTime: time.Now().Add(-2 * time.Hour), Values: map[string]any{"page": "b"}},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := tier.GetOnline(t.Context(), "session", []string{"ttl-fresh", "ttl-stale"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := []store.Status{res.Rows[0].Statuses[0], res.Rows[1].Statuses[0]}; got[0] != store.Present || got[1] != store.Expired {
		t.Fatalf("statuses: got %v, want [PRESENT EXPIRED]", got)
	}
	_, bis, err := st.SubjectIndexes("session", []string{"ttl-fresh", "ttl-stale"})
	if err != nil {
		t.Fatal(err)
	}
	fresh := redisKeysOf(t, c, hex.EncodeToString(bis[0][:]))
	if len(fresh) == 0 {
		t.Fatalf("the fresh row is not in Redis")
	}
	// The expired row is never copied; the fresh one expires with its TTL.
	if stale := redisKeysOf(t, c, hex.EncodeToString(bis[1][:])); len(stale) != 0 {
		t.Errorf("the expired row is in Redis: %q", stale)
	}
	rc := online.NewClusterClient(c.Seeds())
	defer rc.Close()
	ttl, err := rc.PTTL(t.Context(), strings.Fields(fresh[0])[1]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 58*time.Minute || ttl > time.Hour {
		t.Errorf("expiry of the fresh row in Redis: got %v, want about 59m (event time + the view's 1h TTL)", ttl)
	}
}

func TestRedisHoldsNoPlaintext(t *testing.T) {
	t.Parallel()
	c := redistest.Shared(t)
	st, tier := openTier(t, t.TempDir(), c)
	const marker = "PLAINTEXT-MARKER-7f3a"
	ks := keysN("RAWKEY-c91e", 50)
	write(t, st, marker, time.Now(), ks...)
	if got := emails(t, tier, ks...); got[0] != marker+"-"+ks[0] {
		t.Fatalf("read back: got %q", got[0])
	}
	needles := [][]byte{[]byte(marker), []byte("RAWKEY-c91e")}
	scanned := 0
	for _, n := range c.Nodes {
		keys, err := n.Keys()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			scanned++
			for _, cmd := range [][]string{{"DUMP", k}, {"GET", k}} {
				out, err := n.CLI(cmd...)
				if err != nil {
					t.Fatalf("%s on %s: %v", cmd[0], n.Addr, err)
				}
				for _, x := range needles {
					if bytes.Contains([]byte(k+out), x) {
						t.Errorf("node %s key %q: %s shows %q", n.Addr, k, cmd[0], x)
					}
				}
			}
		}
		files, err := n.Files()
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			for _, x := range needles {
				if bytes.Contains(b, x) {
					t.Errorf("file %s holds %q", name, x)
				}
			}
		}
	}
	if scanned < len(ks) {
		t.Fatalf("scanned %d keys over every node, want at least %d (the rows written)", scanned, len(ks))
	}
}

func TestCrashBetweenCommitAndRedisServesNoStaleRow(t *testing.T) {
	t.Parallel()
	c := redistest.Shared(t)
	dir := t.TempDir()
	st, tier := openTier(t, dir, c)
	k := "crash-subject"
	ev1, ev2 := time.Now().Add(-time.Second), time.Now()
	write(t, st, "v1", ev1, k)
	if got := emails(t, tier, k); got[0] != "v1-"+k {
		t.Fatalf("before: got %q", got[0])
	}
	_, bis, _ := st.SubjectIndexes("profile", []string{k})
	rkey := strings.Fields(redisKeysOf(t, c, hex.EncodeToString(bis[0][:]))[0])[1]

	online.CrashAfterCommit(tier, true)
	write(t, st, "v2", ev2, k) // committed; Redis still holds v1
	if got := emails(t, tier, k); got[0] != "v2-"+k {
		t.Errorf("after the commit, same process: got %q, want the acknowledged v2", got[0])
	}
	// The process dies: close without draining, reopen.
	if err := tier.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if got := redisEventTime(t, c, rkey); !got.Equal(ev1) {
		t.Fatalf("Redis holds the row of %v, want v1's (%v): the injected crash did not happen", got, ev1)
	}
	st2, tier2 := openTier(t, dir, c) // Attach applies the outbox
	if got := emails(t, tier2, k); got[0] != "v2-"+k {
		t.Errorf("after restart: got %q, want v2", got[0])
	}
	if got := redisEventTime(t, c, rkey); !got.Equal(ev2) {
		t.Errorf("Redis after the drain holds the row of %v, want v2's (%v)", got, ev2)
	}
	if s := tier2.Status(t.Context()); s.OutboxDepth != 0 {
		t.Errorf("outbox depth after the drain: got %d, want 0", s.OutboxDepth)
	}
	before := tier2.Status(t.Context()).Hits
	if got := emails(t, tier2, k); got[0] != "v2-"+k {
		t.Errorf("from Redis: got %q, want v2", got[0])
	}
	if hits := tier2.Status(t.Context()).Hits - before; hits != 1 {
		t.Errorf("hits: got %d, want 1 (v2 served by Redis once the outbox drained)", hits)
	}
	_ = st2
}

// redisEventTime returns the event time of the row Redis holds at key
// (the value's first 8 bytes; the rest is ciphertext).
func redisEventTime(t *testing.T, c *redistest.Cluster, key string) time.Time {
	t.Helper()
	rc := online.NewClusterClient(c.Seeds())
	defer rc.Close()
	b, err := rc.Get(context.Background(), key).Bytes()
	if err != nil || len(b) < 8 {
		t.Fatalf("GET %s: %v", key, err)
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^1<<63))
}

func TestErasureRemovesTheSubjectFromEveryNode(t *testing.T) {
	t.Parallel()
	c := redistest.Shared(t)
	st, tier := openTier(t, t.TempDir(), c)
	ks := []string{"erase-me", "keep-me"}
	write(t, st, "val", time.Now(), ks...)
	if _, err := st.Write(t.Context(), "session", []store.Row{{EntityKey: "erase-me", Values: map[string]any{"page": "p"}}}); err != nil {
		t.Fatal(err)
	}
	emails(t, tier, ks...)
	_, bis, _ := st.SubjectIndexes("profile", ks)
	gone, kept := hex.EncodeToString(bis[0][:]), hex.EncodeToString(bis[1][:])
	if n := len(redisKeysOf(t, c, gone)); n < 2 {
		t.Fatalf("before the erasure: %d keys of the subject in Redis, want its 2 views (on primary and replica)", n)
	}
	rec, err := st.Erase(t.Context(), "customer", ks[:1], store.EraseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := tier.EraseSubjects(t.Context(), "customer", []keys.BlindIndex{rec[0].BlindIndex}); err != nil {
		t.Fatal(err)
	}
	// Replicas apply the DEL asynchronously: wait for them, boundedly.
	deadline := time.Now().Add(3 * time.Second)
	for len(redisKeysOf(t, c, gone)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := redisKeysOf(t, c, gone); len(left) != 0 {
		t.Errorf("keys of the erased subject left in Redis: %q", left)
	}
	if len(redisKeysOf(t, c, kept)) == 0 {
		t.Errorf("the other subject's key was deleted too")
	}
	if got := emails(t, tier, ks...); got[0] != "" || got[1] != "val-keep-me" {
		t.Errorf("after the erasure: got %q, want [\"\" val-keep-me]", got)
	}
}
