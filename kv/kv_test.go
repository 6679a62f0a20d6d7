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
