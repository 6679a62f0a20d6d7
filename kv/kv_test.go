package kv_test

import (
	"testing"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/kv/kvtest"
)

// TestBadgerConformance runs the kv conformance suite on the in-memory
// Badger store.
func TestBadgerConformance(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T) kv.Store {
		db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	kvtest.Run(t, open)
	kvtest.RunGuarded(t, open)
}
