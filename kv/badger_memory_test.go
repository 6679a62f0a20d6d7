package kv_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

// TestCompressedTablesReadWithoutABlockCache: a store whose tables an
// older version wrote with Snappy (and a block cache, which Badger
// requires for writing them) opens and reads the same with the plan's
// settings, uncompressed and without a block cache: a table's compression
// is recorded per table, and each read decompresses its block.
func TestCompressedTablesReadWithoutABlockCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	value := func(i int) []byte { return bytes.Repeat([]byte(fmt.Sprint(i%10)), 300) } // compresses
	old, err := kv.OpenBadger(kv.DefaultOptions(dir).WithSyncWrites(false).WithMemory(kv.Memory{MemTableBytes: 1 << 20, BlockCacheBytes: 1 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20_000 // several memtables: flushed to Snappy tables
	for i := 0; i < n; i += 200 {
		var ops []kv.Op
		for j := i; j < i+200; j++ {
			ops = append(ops, kv.Op{Key: fmt.Appendf(nil, "k%06d", j), Value: value(j)})
		}
		if err := old.Apply(ops); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := kv.OpenBadger(kv.DefaultOptions(dir).WithSyncWrites(false).WithMemory(kv.Memory{MemTableBytes: 1 << 20, BlockCacheBytes: kv.NoCache, Uncompressed: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, i := range []int{0, 1, 4_999, 12_345, n - 1} {
		got, err := db.Get([][]byte{fmt.Appendf(nil, "k%06d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[0], value(i)) {
			t.Errorf("key %d reads %d bytes, want its %d", i, len(got[0]), len(value(i)))
		}
	}
	seen := 0
	if err := db.Scan([]byte("k"), func(e kv.Entry) error { seen++; return nil }); err != nil {
		t.Fatal(err)
	}
	if seen != n {
		t.Errorf("a scan saw %d keys of %d", seen, n)
	}
}
