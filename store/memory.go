package store

import (
	"fmt"

	"github.com/featurevault/featurevault/kv"
)

// DefaultMemoryBudget is the memory budget of a store whose options name
// none: 256 MiB.
const DefaultMemoryBudget = 256 << 20

// MinMemoryBudget is the smallest budget PlanMemory accepts: 64 MiB.
const MinMemoryBudget = 64 << 20

// subjectKeyBytes is what one cached subject key costs in memory, at most:
// Tink's key object, its cache entry and the id naming it
// (keys.BenchmarkSubjectKeyCacheBytes measured 313 bytes; the cache holds
// keys, not their AES-GCM primitives, which took 1 001 bytes each).
const subjectKeyBytes = 384

// MemoryPlan is how a memory budget is split between the server's three
// Badger databases and the cache of unwrapped subject keys. For a budget B:
//
//	data      memtables 2 × B/8 (8 to 64 MiB each)
//	keystore  memtables 2 × B/64 (1 to 16 MiB each)
//	audit     memtables 2 × B/32 (2 to 32 MiB each)
//	subject keys  3B/16 ÷ 384 keys cached (one costs up to 384 bytes)
//
// which adds up to about 53% of B (at 256 MiB: data 64, keystore 8,
// audit 16 MiB, and 131 072 subject keys in up to 48 MiB). The rest is the
// collector's room: Go collects when the heap reaches the budget (the
// soft memory limit) or twice what was live after the last collection,
// whichever comes first, so the further the long-lived part stays below
// half the budget, the less often it collects. Requests in flight and
// Badger's compactions (each builds its output tables in buffers of its
// own, kept in a pool) use that room too; every database runs two
// compactors rather than Badger's four.
//
// The audit database's tables are written uncompressed too, although its
// records compress about 4 to 1: while Badger compacts, Snappy's table
// builder holds buffers of its own per block, and on a grown log that
// more than doubled the collections and added 70 MB to the live heap. The
// price is disk, about 600 bytes per audited request instead of 145
// (BENCHMARKS.md, issue 13).
//
// Audit records stay in the tables, not in Badger's value log, although
// compacting a grown log then takes tens of megabytes of builders'
// buffers: the audit log is flushed to disk every 100 ms without Badger's
// write lock (kv.(*Badger).SyncLogs), and with two log files (the
// memtable's and the value log) nothing orders their pages on disk, so a
// power cut could keep a record's pointer and lose the record, and the log
// would no longer open. One log file keeps whatever survives a power cut
// a prefix of what was written (BENCHMARKS.md, issue 13).
//
// No database has a block cache. Every table is written uncompressed
// (ciphertext does not compress; for the audit log see below), so a read
// uses a block in place, straight from the mapped table file, and a block
// cache would only add a cache lookup and insertion to every block a read
// touches: without it a seek of a row on a 100 000-entity store took 13.2
// µs instead of 15.4 (in process, BENCHMARKS.md, issue 13). Tables an
// older version wrote compressed stay readable (Badger records each
// table's compression); each read of one decompresses its block, until a
// compaction rewrites it.
//
// Table indexes and bloom filters are not cached but held whole (about 1%
// of the data on disk): a bounded index cache put a cache lookup in front
// of every table a read touches, which cost more CPU than it saved memory.
// The process's resident set also counts the pages of table files that
// reads have touched: Badger maps them into memory, and the kernel keeps
// them (and drops them first, under memory pressure: they are clean page
// cache, not heap).
//
// The data memtable also bounds one atomic write: Badger refuses a commit
// larger than about 15% of it, so at the default budget a write or an
// ingest batch holds up to about 4.8 MB of encrypted values (2,500 rows
// of 50 float64 features). A larger budget raises that to 9.6 MB (64 MiB
// memtables from a 512 MiB budget).
type MemoryPlan struct {
	Budget      int64
	Data        kv.Memory
	Keystore    kv.Memory
	Audit       kv.Memory
	SubjectKeys int // unwrapped subject keys cached
}

// PlanMemory splits budget bytes (at least MinMemoryBudget) as MemoryPlan
// describes.
func PlanMemory(budget int64) (MemoryPlan, error) {
	if budget < MinMemoryBudget {
		return MemoryPlan{}, fmt.Errorf("store: memory budget of %d bytes is below the minimum of %d (64 MiB)", budget, MinMemoryBudget)
	}
	clamp := func(v, lo, hi int64) int64 { return min(max(v, lo), hi) }
	return MemoryPlan{
		Budget: budget,
		Data: kv.Memory{
			MemTableBytes: clamp(budget/8, 8<<20, 64<<20), MemTables: 2,
			BlockCacheBytes: kv.NoCache, Uncompressed: true, Compactors: 2,
		},
		Keystore: kv.Memory{
			MemTableBytes: clamp(budget/64, 1<<20, 16<<20), MemTables: 2,
			BlockCacheBytes: kv.NoCache, Uncompressed: true, Compactors: 2,
		},
		Audit: kv.Memory{
			MemTableBytes: clamp(budget/32, 2<<20, 32<<20), MemTables: 2,
			BlockCacheBytes: kv.NoCache, Uncompressed: true, Compactors: 2,
		},
		SubjectKeys: int(budget * 3 / 16 / subjectKeyBytes),
	}, nil
}

// Total is what the plan lets the databases and the subject key cache
// hold at most, in bytes.
func (p MemoryPlan) Total() int64 {
	return p.Data.Total() + p.Keystore.Total() + p.Audit.Total() + int64(p.SubjectKeys)*subjectKeyBytes
}

// WithMemoryBudget sizes the store's databases and its subject key cache
// from a memory budget in bytes (see MemoryPlan; the default is
// DefaultMemoryBudget). It fails on a budget below MinMemoryBudget. It
// sets the size of the subject key cache in the keyring options: call
// WithKeys first, or set the size again after it. (The keys package's
// default, 100 000 keys, is close to the default budget's share.)
func (o Options) WithMemoryBudget(budget int64) (Options, error) {
	p, err := PlanMemory(budget)
	if err != nil {
		return o, err
	}
	o.memory = &p
	o.keys = o.keys.WithCacheSize(p.SubjectKeys)
	return o, nil
}

// MemoryPlan returns the plan Open sizes the store by: the one given with
// WithMemoryBudget, or DefaultMemoryBudget's. Whoever opens the audit
// database beside the store sizes it with the plan's Audit.
func (o Options) MemoryPlan() MemoryPlan {
	if o.memory != nil {
		return *o.memory
	}
	p, _ := PlanMemory(DefaultMemoryBudget)
	return p
}
