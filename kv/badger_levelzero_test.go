package kv

import (
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestMemoryAppliesEveryField checks that each field of Memory reaches
// Badger's options, and that zero fields keep Badger's defaults.
func TestMemoryAppliesEveryField(t *testing.T) {
	t.Parallel()
	def := badger.DefaultOptions("")
	if got := (Memory{}).apply(def); got.NumLevelZeroTables != def.NumLevelZeroTables || got.BlockCacheSize != def.BlockCacheSize ||
		got.MemTableSize != def.MemTableSize || got.NumCompactors != def.NumCompactors || got.Compression != def.Compression {
		t.Errorf("a zero Memory changed Badger's defaults: %+v", got)
	}
	m := Memory{MemTableBytes: 8 << 20, MemTables: 3, BlockCacheBytes: NoCache, LevelZeroTables: 2, Uncompressed: true, Compactors: 2}
	got := m.apply(def)
	if got.MemTableSize != 8<<20 || got.NumMemtables != 3 || got.BlockCacheSize != 0 || got.NumLevelZeroTables != 2 ||
		got.NumCompactors != 2 || got.Compression != 0 {
		t.Errorf("Memory %+v applied as memtable %d ×%d, block cache %d, level-0 tables %d, compactors %d, compression %d",
			m, got.MemTableSize, got.NumMemtables, got.BlockCacheSize, got.NumLevelZeroTables, got.NumCompactors, got.Compression)
	}
	if got.NumLevelZeroTables >= got.NumLevelZeroTablesStall {
		t.Errorf("level 0 compacts at %d tables but writes stall at %d", got.NumLevelZeroTables, got.NumLevelZeroTablesStall)
	}
}
