package kv

import (
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Memory sizes what one Badger database holds in memory. A zero field
// keeps Badger's default (64 MiB memtables, 5 of them, a 256 MiB block
// cache, table indexes held whole in memory).
//
// The memtable also bounds one atomic Apply: Badger refuses a transaction
// larger than about 15% of MemTableBytes (ErrTooLarge), so a 64 MiB
// memtable commits up to about 9.6 MB at once and a 32 MiB one 4.8 MB.
type Memory struct {
	// MemTableBytes is the size of one memtable: the in-memory skiplist
	// writes land in (allocated whole when the memtable is created), and
	// of its write-ahead log file.
	MemTableBytes int64
	// MemTables is how many memtables may exist at once: the one being
	// written and those waiting to be written to disk. Writes stall when
	// all are full.
	MemTables int
	// BlockCacheBytes bounds the cache of table blocks read from disk
	// (decompressed, when the table is compressed). 0 keeps the default;
	// use NoCache for none.
	BlockCacheBytes int64
	// IndexCacheBytes bounds the cache of table indexes and bloom filters;
	// 0 keeps every table's index in memory (it grows with the data).
	IndexCacheBytes int64
	// Uncompressed writes new tables without compression (the default is
	// Snappy). Right for a store of ciphertext, which does not compress:
	// reads then use table blocks in place instead of decompressing them.
	// Tables written compressed stay readable.
	Uncompressed bool
	// Compactors bounds the compactions that run at once (Badger's default
	// is 4; it needs at least 2). Each compaction builds its output tables
	// in buffers of its own, up to twice a table's size per table it
	// builds at once, which Badger keeps in a pool for reuse: fewer
	// compactors hold less of that memory.
	Compactors int
}

// NoCache, as Memory.BlockCacheBytes, turns the block cache off.
const NoCache = -1

// Total is the most the memtables and caches may hold, in bytes.
func (m Memory) Total() int64 {
	return m.MemTableBytes*int64(max(m.MemTables, 1)) + max(m.BlockCacheBytes, 0) + m.IndexCacheBytes
}

// WithMemory sizes the database's memtables and caches.
func (o Options) WithMemory(m Memory) Options { o.memory = m; return o }

// apply sets m's sizes on bo.
func (m Memory) apply(bo badger.Options) badger.Options {
	if m.MemTableBytes > 0 {
		// Badger refuses a value threshold above its largest batch (15%
		// of a memtable): values larger than the threshold go to the
		// value log instead of the memtable.
		bo = bo.WithMemTableSize(m.MemTableBytes).
			WithValueThreshold(min(bo.ValueThreshold, 15*m.MemTableBytes/100))
	}
	if m.MemTables > 0 {
		bo = bo.WithNumMemtables(m.MemTables)
	}
	switch {
	case m.BlockCacheBytes > 0:
		bo = bo.WithBlockCacheSize(m.BlockCacheBytes)
	case m.BlockCacheBytes == NoCache:
		bo = bo.WithBlockCacheSize(0)
	}
	if m.IndexCacheBytes > 0 {
		bo = bo.WithIndexCacheSize(m.IndexCacheBytes)
	}
	if m.Compactors > 0 {
		bo = bo.WithNumCompactors(max(m.Compactors, 2))
	}
	if m.Uncompressed {
		bo = bo.WithCompression(options.None)
	}
	return bo
}
