package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Log is an append-only, hash-chained, MAC-keyed audit log in a kv.Store.
//
// By default one process owns a log for writing: appends are serialised in
// memory, and the head is cached between them, so two processes appending
// to one store would overwrite each other's records. Servers that share a
// store open it WithShared instead: each commit then reads and moves the
// head under the store's lock of the head key, and all servers' records
// form one chain. Readers (Verify, Range, Tail, Export) may run anywhere,
// concurrently with appends.
//
// A Log is safe for concurrent use. It holds no resources of its own: close
// the store to release it.
type Log struct {
	store    kv.Store
	mac      tink.MAC
	now      func() time.Time
	readOnly bool
	maxBatch int
	shared   bool // several servers append: chain under the store's head lock (shared.go)

	mu         sync.Mutex
	queue      []*pending // appends waiting for a committer; guarded by mu
	committing bool       // a committer is running; guarded by mu

	// Owned by the one running committer (handed over under mu).
	head  Checkpoint  // last committed record
	stale bool        // a commit failed: reload head from the store first
	swaps swapBackoff // a shared log's one-step commits (shared.go)
}

// Checkpoint names a position in the log: a record's sequence number and its
// Hash. The head of the log is a Checkpoint; exported regularly to a place
// the server cannot rewrite, checkpoints let Verify detect a log rolled back
// or truncated as a whole (see the package documentation).
type Checkpoint struct {
	Seq  uint64 `json:"seq"`
	Hash Digest `json:"hash"`
}

// String returns "seq:hash-hex", the form ParseCheckpoint reads.
func (c Checkpoint) String() string { return fmt.Sprintf("%d:%s", c.Seq, c.Hash) }

// ParseCheckpoint parses the "seq:hash-hex" form of Checkpoint.String.
func ParseCheckpoint(s string) (Checkpoint, error) {
	var c Checkpoint
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return c, fmt.Errorf("%w: checkpoint %q is not seq:hash", ErrInvalidArgument, s)
	}
	seq, err := strconv.ParseUint(s[:i], 10, 64)
	if err != nil || seq == 0 {
		return c, fmt.Errorf("%w: checkpoint %q: sequence number must be a positive integer", ErrInvalidArgument, s)
	}
	c.Seq = seq
	if err := c.Hash.UnmarshalText([]byte(s[i+1:])); err != nil || len(c.Hash) == 0 {
		return c, fmt.Errorf("%w: checkpoint %q: hash must be non-empty hex", ErrInvalidArgument, s)
	}
	return c, nil
}

// Open returns the log kept in store, MACed with m. The lead builds m from
// the service keyset, e.g.
//
//	h, err := keyring.NamedKeyset("audit-mac", mac.HMACSHA256Tag256KeyTemplate())
//	m, err := mac.New(h)
//
// A writable log (the default) checks on open that the head pointer names
// the last record, that no record follows it, and that the last record
// verifies under m; otherwise it returns ErrHeadMismatch or ErrKeyMismatch
// and refuses to append to a log it would damage further. Open read-only
// (WithReadOnly) to verify or read a damaged log.
func Open(store kv.Store, m tink.MAC, o Options) (*Log, error) {
	switch {
	case store == nil:
		return nil, fmt.Errorf("%w: nil store", ErrInvalidArgument)
	case m == nil:
		return nil, fmt.Errorf("%w: nil MAC; build one with mac.New from the audit keyset", ErrInvalidArgument)
	case o.now == nil:
		return nil, fmt.Errorf("%w: nil clock; start from DefaultOptions", ErrInvalidArgument)
	case o.maxBatch < 1:
		return nil, fmt.Errorf("%w: max batch must be at least 1", ErrInvalidArgument)
	}
	if o.shared {
		if _, ok := store.(kv.GuardedApplier); !ok {
			return nil, fmt.Errorf("%w: a shared log needs a store with guarded batches (kv.GuardedApplier)", ErrInvalidArgument)
		}
	}
	l := &Log{store: store, mac: m, now: o.now, readOnly: o.readOnly, maxBatch: o.maxBatch, shared: o.shared}
	if !o.readOnly {
		h, err := l.loadHead()
		if err != nil {
			return nil, err
		}
		l.head = h
	}
	return l, nil
}

// Head returns the current head of the log as stored (the zero Checkpoint
// for an empty log). Export it regularly, outside the data directory, and
// pass it to Verify later: see the package documentation.
func (l *Log) Head(ctx context.Context) (Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, err
	}
	v, err := l.store.Get([][]byte{headKey})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: read head: %w", err)
	}
	if v[0] == nil {
		return Checkpoint{}, nil
	}
	c, ok := decodeHead(v[0])
	if !ok {
		return Checkpoint{}, fmt.Errorf("%w: head pointer", ErrMalformed)
	}
	return c, nil
}

// Append chains r onto the log and stores it, and returns it as stored: Seq,
// Time, PrevHash and Hash assigned (values r had there are ignored). The
// record and the new head are written in one atomic kv.Apply, so the log
// never holds a record the head does not cover, or a head without its
// record.
//
// Append fails closed: when it returns an error the caller must fail the
// request it was auditing. After a failed write the next Append reloads the
// head from the store, so a write that was in fact committed is chained
// onto, never overwritten. A record may therefore be in the log although
// Append reported an error; the log errs towards recording too much.
//
// Concurrent appends are committed together, up to the batch size set by
// WithMaxBatch, in one Apply (group commit): with synchronous writes the
// cost of an fsync is shared by the batch. Order in the log is arrival
// order. ctx is checked before the record is queued; once queued it is
// committed or fails with its batch.
//
// r must satisfy the contract on Record; Append returns ErrInvalidRecord
// when it detectably does not.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	if l.readOnly {
		return Record{}, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	rec, err := normalize(r)
	if err != nil {
		return Record{}, err
	}
	p := &pending{rec: rec, done: make(chan struct{}, 1)}

	l.mu.Lock()
	l.queue = append(l.queue, p)
	if l.committing {
		l.mu.Unlock()
		<-p.done
		if !p.lead {
			return p.out, p.err
		}
		l.mu.Lock() // handed the committer role; committing stays true
	} else {
		l.committing = true
	}
	// p is at the front of the queue: a new committer starts only on an
	// empty queue, and the role is handed to the front waiter.
	n := min(len(l.queue), l.maxBatch)
	batch := l.queue[:n:n]
	l.queue = append([]*pending(nil), l.queue[n:]...)
	l.mu.Unlock()

	l.commitSafely(batch)

	l.mu.Lock()
	if len(l.queue) > 0 {
		next := l.queue[0]
		next.lead = true
		next.done <- struct{}{}
	} else {
		l.committing = false
	}
	l.mu.Unlock()
	for _, q := range batch[1:] {
		q.done <- struct{}{}
	}
	return p.out, p.err
}

// pending is one queued append. done receives once: when out and err are
// set, or when lead is set to hand the committer role over.
type pending struct {
	rec  Record
	done chan struct{}
	lead bool
	out  Record
	err  error
}

// commitSafely runs commit, turning a panic (from a MAC or store
// implementation) into an error for the whole batch, so that the committer
// role is always handed on: net/http recovers handler panics, and a lost
// committer would block every later append.
func (l *Log) commitSafely(batch []*pending) {
	defer func() {
		if v := recover(); v != nil {
			l.stale = true
			for _, p := range batch {
				p.out, p.err = Record{}, fmt.Errorf("audit: commit panicked: %v", v)
			}
		}
	}()
	l.commit(batch)
}

// commit chains and writes batch, setting each pending's result. Only the
// one running committer calls it.
func (l *Log) commit(batch []*pending) {
	if l.shared {
		if !l.swapped(batch) {
			l.commitShared(batch)
		}
		return
	}
	if l.stale {
		h, err := l.loadHead()
		if err != nil {
			for _, p := range batch {
				p.err = err
			}
			return
		}
		l.head, l.stale = h, false
	}
	l.commitChunk(batch)
}

func (l *Log) commitChunk(batch []*pending) {
	ops, ok, head := l.chain(l.head, batch)
	if len(ok) == 0 {
		return
	}
	ops = append(ops, kv.Op{Key: headKey, Value: encodeHead(head)})
	err := l.store.Apply(ops)
	if errors.Is(err, kv.ErrTooLarge) && len(ok) > 1 {
		// Nothing was written: split the batch and chain each half anew.
		for _, p := range ok {
			p.out = Record{}
		}
		h := len(ok) / 2
		l.commitChunk(ok[:h])
		l.commitChunk(ok[h:])
		return
	}
	if err != nil {
		// The write may or may not have landed: reload before the next one.
		l.stale = true
		failed(ok, err)
		return
	}
	l.committed(head, ok)
}

// failed gives each pending of ok the error of a write that may or may
// not have landed.
func failed(ok []*pending, err error) {
	for _, p := range ok {
		p.err = fmt.Errorf("audit: append record %d: %w", p.out.Seq, err)
		p.out = Record{}
	}
}

// committed records that the records of ok were written with head as the
// new head, and gives each caller its own copy of the hashes.
func (l *Log) committed(head Checkpoint, ok []*pending) {
	l.head = head
	for _, p := range ok {
		p.out.PrevHash = bytes.Clone(p.out.PrevHash)
		p.out.Hash = bytes.Clone(p.out.Hash)
	}
}

// chain numbers, stamps and MACs the batch's records after head, setting
// each pending's out (or err, for a record it refuses), and returns the
// record writes, the pendings it accepted and the new head. It writes
// nothing.
func (l *Log) chain(head Checkpoint, batch []*pending) ([]kv.Op, []*pending, Checkpoint) {
	ops := make([]kv.Op, 0, len(batch)+1)
	var ok []*pending
	for _, p := range batch {
		rec := p.rec
		rec.Seq = head.Seq + 1
		rec.PrevHash = head.Hash
		rec.Time = l.now().UTC()
		if !time.Unix(0, rec.Time.UnixNano()).Equal(rec.Time) {
			p.err = fmt.Errorf("%w: clock reads %v, outside the years 1678-2262", ErrInvalidArgument, rec.Time)
			continue
		}
		content := encodeContent(&rec)
		if len(content) > MaxRecordLen {
			p.err = fmt.Errorf("%w: encoded record is %d bytes, more than %d; split it (e.g. fewer Subjects per record)", ErrInvalidRecord, len(content), MaxRecordLen)
			continue
		}
		tag, err := l.mac.ComputeMAC(content)
		if err != nil {
			p.err = fmt.Errorf("audit: compute MAC: %w", err)
			continue
		}
		rec.Hash = tag
		head = Checkpoint{Seq: rec.Seq, Hash: tag}
		ops = append(ops, kv.Op{Key: recordKey(rec.Seq), Value: encodeStored(content, tag)})
		p.out = rec
		ok = append(ok, p)
	}
	return ops, ok, head
}

// loadHead reads the head pointer and checks that it names the last record
// and that the record verifies under the log's MAC.
func (l *Log) loadHead() (Checkpoint, error) {
	v, err := l.store.Get([][]byte{headKey})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: read head: %w", err)
	}
	if v[0] == nil {
		first, err := l.store.First([][]byte{prefix})
		if err != nil {
			return Checkpoint{}, fmt.Errorf("audit: read log: %w", err)
		}
		if first[0].Key != nil {
			return Checkpoint{}, fmt.Errorf("%w: records exist but the head pointer is missing", ErrHeadMismatch)
		}
		return Checkpoint{}, nil
	}
	c, ok := decodeHead(v[0])
	if !ok {
		return Checkpoint{}, fmt.Errorf("%w: the head pointer is malformed", ErrHeadMismatch)
	}
	v, err = l.store.Get([][]byte{recordKey(c.Seq), recordKey(c.Seq + 1)})
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: read log: %w", err)
	}
	if v[1] != nil {
		return Checkpoint{}, fmt.Errorf("%w: the head names record %d but record %d exists", ErrHeadMismatch, c.Seq, c.Seq+1)
	}
	if v[0] == nil {
		return Checkpoint{}, fmt.Errorf("%w: the head names record %d, which is missing", ErrHeadMismatch, c.Seq)
	}
	rec, content, err := decodeStored(v[0])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: record %d is malformed", ErrHeadMismatch, c.Seq)
	}
	if rec.Seq != c.Seq || !bytes.Equal(rec.Hash, c.Hash) {
		return Checkpoint{}, fmt.Errorf("%w: record %d does not carry the head's hash", ErrHeadMismatch, c.Seq)
	}
	if err := l.mac.VerifyMAC(rec.Hash, content); err != nil {
		return Checkpoint{}, fmt.Errorf("%w (record %d)", ErrKeyMismatch, c.Seq)
	}
	return c, nil
}
