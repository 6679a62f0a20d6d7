package audit_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/internal/pgtest"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/kv/pgkv"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSharedLogIsOneChainAcrossWriters opens one log three times on one
// store, as three servers would, and appends through all of them at once:
// the result must be one chain holding every record, which Verify accepts.
func TestSharedLogIsOneChainAcrossWriters(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) kv.Store{
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
	for name, open := range stores {
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
