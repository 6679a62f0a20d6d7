package store

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// Batch sizes of a Scan, in rows.
const (
	DefaultBatchRows = 4096
	MaxBatchRows     = 65_536
)

// ScanOptions selects what Scan reads. The zero value reads every row and
// every field of the view.
type ScanOptions struct {
	// Features names the fields to read, in column order; empty means every
	// field of the view.
	Features []string
	// Start and End bound the event time to [Start, End); a zero bound is
	// open.
	Start, End time.Time
	// AsOf, when set, reads only the latest row of each entity whose event
	// time is at or before AsOf and within the view's TTL of it (AsOf minus
	// the event time at most the TTL): the values a model serving at AsOf
	// would have seen. Entities without such a row are left out. End must
	// then be zero; Start still applies.
	AsOf time.Time
	// CreatedCutoff, when set, ignores rows written after it, as if they
	// had not arrived yet: with AsOf, an entity whose latest row was
	// backfilled later falls back to the row before it. A row rewritten with
	// the same entity and event time replaces the earlier version, which is
	// then gone for every cutoff.
	CreatedCutoff time.Time
	// BatchRows is the number of rows per batch (default DefaultBatchRows,
	// at most MaxBatchRows). The last batch may be shorter.
	BatchRows int
	// SkipEntityKeys leaves Batch.EntityKey empty: the subject records
	// are not read or decrypted, so raw entity keys never reach memory.
	// Aggregates, which need only Batch.Subject, should set it.
	SkipEntityKeys bool
}

// Scanner streams the rows of a view in batches: see Scan.
type Scanner struct {
	s      *Store
	ctx    context.Context
	v      *View
	ent    *Entity
	pos    []int
	fields []Field

	prefix []byte // 'r' | view ID
	rows   int    // BatchRows
	names  bool   // decrypt subject records into entity keys

	asOf                     bool
	start, end, at, lower    int64 // event-time bounds in ns (see bounds)
	hasStart, hasEnd, cutoff bool
	createdCutoff            int64

	// The producer goroutine owns these while it runs.
	resume  []byte   // where the next batch starts; nil once the view is exhausted
	filling *scanBuf // the buffer visit appends to
	skipped atomic.Int64

	started bool
	loaded  chan scanResult // buffers read from the KV, to decrypt
	results chan scanResult // decrypted buffers, one ahead of the consumer
	free    chan *scanBuf   // buffers the consumer is done with
	stop    chan struct{}
	closed  bool
	cur     *scanBuf // the batch the consumer holds
	err     error
}

// Scan starts a streaming read of view: Next fills one Batch at a time, in
// the order of the view's keys (by subject blind index, then newest first),
// which is stable but says nothing about the entity keys.
//
// Memory stays flat however many rows the view holds: each batch is read
// in its own short read transaction (so a slow consumer holds no snapshot
// open), copied, and decrypted in parallel across cores, by goroutines
// that work ahead of the caller (one reads the next batch from the KV while
// the other decrypts the one before); at most three batches are in memory. The stream is therefore not a snapshot: a row written while it
// runs may or may not appear, but no row appears twice.
//
// Call Close when done (it stops the goroutine); reading to the end, or
// cancelling ctx, stops it too.
//
// Each value is decrypted with associated data recomputed from its row key
// and the registry, and the raw entity key from the subject record; a value
// or record that fails authentication fails the scan with KindCorrupt.
// Rows of erased subjects (no key) are skipped and counted by Skipped.
func (s *Store) Scan(ctx context.Context, view string, o ScanOptions) (*Scanner, error) {
	v, ent, err := s.lookup(view)
	if err != nil {
		return nil, err
	}
	_, pos, err := selectFields(v, o.Features)
	if err != nil {
		return nil, err
	}
	sc := &Scanner{s: s, ctx: ctx, v: v, ent: ent, pos: pos, rows: o.BatchRows, names: !o.SkipEntityKeys}
	if sc.rows == 0 {
		sc.rows = DefaultBatchRows
	}
	if sc.rows < 0 || sc.rows > MaxBatchRows {
		return nil, errorf(KindInvalid, "batch size %d rows is out of range; use 1 to %d", o.BatchRows, MaxBatchRows)
	}
	if err := sc.bounds(o); err != nil {
		return nil, err
	}
	sc.fields = make([]Field, len(pos))
	for j, fi := range pos {
		sc.fields[j] = cloneField(v.Fields[fi])
	}
	sc.prefix = binary.BigEndian.AppendUint32([]byte{rowTag}, v.ID)
	sc.resume = sc.prefix
	return sc, nil
}

// bounds checks the time options and turns them into nanosecond bounds.
func (sc *Scanner) bounds(o ScanOptions) error {
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"start", o.Start}, {"end", o.End}, {"as-of", o.AsOf}, {"created cutoff", o.CreatedCutoff}} {
		if !t.t.IsZero() && (t.t.Before(minEventTime) || t.t.After(maxEventTime)) {
			return errorf(KindInvalid, "%s time is outside 1677-09-21..2262-04-11", t.name)
		}
	}
	sc.hasStart, sc.start = !o.Start.IsZero(), o.Start.UnixNano()
	sc.hasEnd, sc.end = !o.End.IsZero(), o.End.UnixNano()
	sc.cutoff, sc.createdCutoff = !o.CreatedCutoff.IsZero(), o.CreatedCutoff.UnixNano()
	if sc.hasStart && sc.hasEnd && sc.end <= sc.start {
		return errorf(KindInvalid, "end time must be after start time; the range is [start, end)")
	}
	if o.AsOf.IsZero() {
		return nil
	}
	if sc.hasEnd {
		return errorf(KindInvalid, "as-of and end time cannot be combined: as-of already bounds event times from above (at or before it)")
	}
	sc.asOf, sc.at = true, o.AsOf.UnixNano()
	sc.lower = minEventTime.UnixNano()
	if ttl := int64(sc.v.TTL); ttl > 0 && sc.at >= sc.lower+ttl {
		sc.lower = sc.at - int64(ttl)
	}
	if sc.hasStart {
		sc.lower = max(sc.lower, sc.start)
	}
	return nil
}

// Batch returns the batch Next made current; valid until the next call to
// Next or Close.
func (sc *Scanner) Batch() *Batch { return &sc.cur.batch }

// Err returns the error that stopped Next, if any.
func (sc *Scanner) Err() error { return sc.err }

// Skipped returns how many rows have been left out so far because their
// subject has been erased (its key or record is gone).
func (sc *Scanner) Skipped() int64 { return sc.skipped.Load() }

// Fields returns the selected fields, in column order. Do not modify it.
func (sc *Scanner) Fields() []Field { return sc.fields }

// View returns the scanned view (a copy).
func (sc *Scanner) View() View { return cloneView(sc.v) }

// Entity returns the view's entity.
func (sc *Scanner) Entity() Entity { return *sc.ent }

// visit is the Seek callback: it applies the time filters with skips, so
// rows outside them cost a key comparison, and copies the rows it keeps.
func (sc *Scanner) visit(e kv.Entry) ([]byte, error) {
	bi, ev, ok := parseRowKey(e.Key)
	if !ok {
		return nil, errorf(KindCorrupt, "view %q holds a malformed row key; restore the data from a backup", sc.v.Name)
	}
	var next []byte
	if sc.asOf {
		switch {
		case ev > sc.at:
			return rowKey(sc.v.ID, bi, sc.at), nil // the subject's first row at or before as-of
		case ev < sc.lower:
			return nextSubject(sc.v.ID, bi), nil // too old, and every later key is older
		}
		next = nextSubject(sc.v.ID, bi) // one row per subject
	} else {
		switch {
		case sc.hasEnd && ev >= sc.end:
			return rowKey(sc.v.ID, bi, sc.end-1), nil
		case sc.hasStart && ev < sc.start:
			return nextSubject(sc.v.ID, bi), nil
		}
	}
	created, ok := rowCreated(e.Value)
	if !ok {
		return nil, errorf(KindCorrupt, "view %q: row of subject %s is malformed; restore the data from a backup", sc.v.Name, bi)
	}
	if sc.cutoff && created > sc.createdCutoff {
		return nil, nil // not yet written at the cutoff: try the subject's older row
	}
	raw := &sc.filling.raw
	raw.add(bi, ev, created, e.Value)
	if raw.len() == sc.rows {
		if next == nil {
			next = append(append(make([]byte, 0, len(e.Key)+1), e.Key...), 0) // the least key after this one
		}
		sc.resume = next
		return nil, kv.SkipAll
	}
	return next, nil
}

// nextSubject returns the least key after every row of subject bi in view:
// the subject's prefix, incremented.
func nextSubject(viewID uint32, bi keys.BlindIndex) []byte {
	p := rowPrefix(viewID, bi)
	for i := len(p) - 1; i >= 0; i-- {
		p[i]++
		if p[i] != 0 {
			break
		}
	}
	return p
}
