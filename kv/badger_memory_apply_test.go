package kv

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// TestMemoryAppliesEveryField checks that each field of Memory reaches
// Badger's options, and that zero fields keep Badger's defaults.
func TestMemoryAppliesEveryField(t *testing.T) {
	t.Parallel()
	def := badger.DefaultOptions("")
	if got := (Memory{}).apply(def); got.BlockCacheSize != def.BlockCacheSize || got.MemTableSize != def.MemTableSize ||
		got.NumMemtables != def.NumMemtables || got.NumCompactors != def.NumCompactors || got.Compression != def.Compression {
		t.Errorf("a zero Memory changed Badger's defaults: %+v", got)
	}
	m := Memory{MemTableBytes: 8 << 20, MemTables: 3, BlockCacheBytes: NoCache, Uncompressed: true, Compactors: 2}
	got := m.apply(def)
	if got.MemTableSize != 8<<20 || got.NumMemtables != 3 || got.BlockCacheSize != 0 || got.NumCompactors != 2 || got.Compression != options.None {
		t.Errorf("Memory %+v applied as memtable %d ×%d, block cache %d, compactors %d, compression %d",
			m, got.MemTableSize, got.NumMemtables, got.BlockCacheSize, got.NumCompactors, got.Compression)
	}
}
