package pgkv_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/featurevault/featurevault/internal/pgtest"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/kv/kvtest"
	"github.com/featurevault/featurevault/kv/pgkv"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestConformance runs the kv conformance suite on PostgreSQL, with a small
// page so that every walk crosses pages.
func TestConformance(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var n atomic.Int32
	open := func(t *testing.T) kv.Store {
		table := fmt.Sprintf("kv_%d", n.Add(1))
		db, err := pgkv.Open(t.Context(), url, pgkv.DefaultOptions(table).WithPageSize(7))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	kvtest.Run(t, open)
	kvtest.RunGuarded(t, open)
	kvtest.RunSwap(t, open)
	src, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	var ops []kv.Op
	for i := range 40 {
		ops = append(ops, kv.Op{Key: []byte{byte(i % 3), byte(i)}, Value: []byte{byte(i), 1, 2}})
	}
	if err := src.Apply(ops); err != nil {
		t.Fatal(err)
	}
	kvtest.RunCopy(t, src, open)
}

// TestConformanceAsyncCommit runs the suite with synchronous_commit off
// (the audit table's setting): atomicity and ordering must not change.
func TestConformanceAsyncCommit(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var n atomic.Int32
	open := func(t *testing.T) kv.Store {
		db, err := pgkv.Open(t.Context(), url, pgkv.DefaultOptions(fmt.Sprintf("async_%d", n.Add(1))).WithSyncCommit(false))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	kvtest.Run(t, open)
	kvtest.RunGuarded(t, open)
	kvtest.RunSwap(t, open)
}
