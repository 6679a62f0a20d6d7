package audit_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/internal/pgtest"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/kv/pgkv"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sharedStores are the stores a shared log runs on.
var sharedStores = map[string]func(t *testing.T) kv.Store{
	"badger": func(t *testing.T) kv.Store { return newMemStore(t) },
	"postgres": func(t *testing.T) kv.Store {
		db, err := pgkv.Open(t.Context(), pgtest.URL(t), pgkv.DefaultOptions("audit"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	},
}

// countingStore counts a real store's guarded and swapped batches.
type countingStore struct {
	kv.Store
	guarded, swaps, won atomic.Int32
}

func (c *countingStore) ApplyGuarded(guard []byte, fn func(cur []byte) ([]kv.Op, error)) error {
	c.guarded.Add(1)
	return c.Store.(kv.GuardedApplier).ApplyGuarded(guard, fn)
}

func (c *countingStore) ApplyIf(guard, want []byte, ops []kv.Op) (bool, error) {
	c.swaps.Add(1)
	ok, err := c.Store.(kv.Swapper).ApplyIf(guard, want, ops)
	if ok {
		c.won.Add(1)
	}
	return ok, err
}

// TestSharedLogSwapsTheHeadItLastWrote shows the one-step commit of a
// shared log: a server appending alone swaps the head it last wrote for
// the next (one round trip on PostgreSQL), and a server whose head another
// server moved loses the swap, writes nothing with it, and chains after the
// current head under the lock instead. The log stays one chain.
func TestSharedLogSwapsTheHeadItLastWrote(t *testing.T) {
	t.Parallel()
	for name, open := range sharedStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := &countingStore{Store: open(t)}
			m := newMAC(t)
			a, err := audit.Open(db, m, audit.DefaultOptions().WithShared(true))
			if err != nil {
				t.Fatal(err)
			}
			appendN := func(l *audit.Log, who string, n int) {
				t.Helper()
				for i := range n {
					if _, err := l.Append(t.Context(), audit.Record{Principal: who, Action: "read", Outcome: fmt.Sprint(i)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			appendN(a, "a", 10)
			// The first append of an empty log takes the lock; every later
			// one swaps.
			if g, s, w := db.guarded.Load(), db.swaps.Load(), db.won.Load(); g != 1 || s != 9 || w != 9 {
				t.Errorf("10 appends alone: %d guarded, %d swaps (%d won); want 1, 9 (9)", g, s, w)
			}
			b, err := audit.Open(db, m, audit.DefaultOptions().WithShared(true))
			if err != nil {
				t.Fatal(err)
			}
			appendN(b, "b", 1) // b opened on a's head: its swap wins
			appendN(a, "a", 1) // a's head is outdated: its swap loses, the lock chains it
			if g, s, w := db.guarded.Load(), db.swaps.Load(), db.won.Load(); g != 2 || s != 11 || w != 10 {
				t.Errorf("after b's and a's appends: %d guarded, %d swaps (%d won); want 2, 11 (10)", g, s, w)
			}
			appendN(a, "a", 3) // after a loss, the next two commits take the lock, then a swaps again
			if g, s, w := db.guarded.Load(), db.swaps.Load(), db.won.Load(); g != 4 || s != 12 || w != 11 {
				t.Errorf("after the backoff: %d guarded, %d swaps (%d won); want 4, 12 (11)", g, s, w)
			}
			rep, err := b.Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("Verify: %v", rep.Err())
			}
			if head, _ := b.Head(t.Context()); head.Seq != 15 {
				t.Errorf("head is record %d after 15 appends", head.Seq)
			}
		})
	}
}

// TestSharedLogIsOneChainAcrossWriters opens one log three times on one
// store, as three servers would, and appends through all of them at once:
// the result must be one chain holding every record, which Verify accepts.
func TestSharedLogIsOneChainAcrossWriters(t *testing.T) {
	t.Parallel()
	for name, open := range sharedStores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			m := newMAC(t)
			const servers, each = 3, 40
			logs := make([]*audit.Log, servers)
			for i := range logs {
				l, err := audit.Open(db, m, audit.DefaultOptions().WithShared(true))
				if err != nil {
					t.Fatal(err)
				}
				logs[i] = l
			}
			var wg sync.WaitGroup
			for i, l := range logs {
				for j := range each {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := l.Append(t.Context(), audit.Record{Principal: fmt.Sprintf("server-%d", i), Action: "read", Outcome: fmt.Sprint(j)}); err != nil {
							t.Error(err)
						}
					}()
				}
			}
			wg.Wait()
			rep, err := logs[0].Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("Verify of the shared log: %v", rep.Err())
			}
			head, err := logs[1].Head(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if head.Seq != servers*each {
				t.Errorf("head is record %d after %d appends through %d logs; records were lost or overwritten", head.Seq, servers*each, servers)
			}
		})
	}
}
