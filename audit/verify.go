package audit

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Kind names a kind of damage Verify can locate.
type Kind string

// The kinds of problem. Each names what Verify saw; the likely cause follows.
const (
	// KindHashMismatch: the record's Hash is not the MAC of its content. The
	// record was edited, or forged by someone without the MAC key.
	KindHashMismatch Kind = "hash-mismatch"
	// KindMalformed: the stored bytes do not decode as a record, or a key
	// under the log's prefix is neither a record nor the head.
	KindMalformed Kind = "malformed"
	// KindGap: records are missing before this one; Seq is the first
	// missing. Records were deleted.
	KindGap Kind = "gap"
	// KindSeqMismatch: the record carries another sequence number than the
	// key it is stored under. Records were moved or swapped.
	KindSeqMismatch Kind = "seq-mismatch"
	// KindPrevMismatch: the record's PrevHash is not the Hash of the record
	// before it. A record was inserted, replaced or reordered here.
	KindPrevMismatch Kind = "prev-mismatch"
	// KindHeadMissing: records exist but the head pointer does not.
	KindHeadMissing Kind = "head-missing"
	// KindHeadMismatch: the head pointer is malformed, or names a record
	// whose Hash is not the one it holds.
	KindHeadMismatch Kind = "head-mismatch"
	// KindBeyondHead: records follow the one the head names; Seq is the
	// first. The head was rewound, or records were added behind the
	// server's back.
	KindBeyondHead Kind = "beyond-head"
	// KindTruncated: the head or a checkpoint names a record past the end
	// of the log; Seq is the first missing record. The tail was cut.
	KindTruncated Kind = "truncated"
	// KindCheckpointMismatch: the record at a checkpoint's Seq does not
	// have the checkpoint's Hash. The log was rewritten or rolled back.
	KindCheckpointMismatch Kind = "checkpoint-mismatch"
)

// MaxProblems bounds how many problems a Report lists; the rest are counted
// in Report.Omitted.
const MaxProblems = 1000

// Problem is one piece of damage, located at a record's sequence number.
type Problem struct {
	Seq    uint64 `json:"seq"`
	Kind   Kind   `json:"kind"`
	Detail string `json:"detail"`
}

// String returns "record N: kind: detail".
func (p Problem) String() string { return fmt.Sprintf("record %d: %s: %s", p.Seq, p.Kind, p.Detail) }

// Report is the result of Verify.
type Report struct {
	// Records is how many records were examined.
	Records uint64 `json:"records"`
	// Head is the head pointer as stored (zero if missing or malformed).
	// On a clean log it names the last record: export it as a checkpoint.
	Head Checkpoint `json:"head"`
	// Problems lists the damage found, in log order (head and checkpoint
	// problems last). Empty on a clean log.
	Problems []Problem `json:"problems,omitempty"`
	// Omitted counts problems beyond MaxProblems.
	Omitted int `json:"omitted,omitempty"`
}

// OK reports whether the log verified clean.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Err returns nil for a clean report, or ErrTampered wrapped with the first
// problem and the number of problems.
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("%w: %d problem(s), first: %s", ErrTampered, len(r.Problems)+r.Omitted, r.Problems[0])
}

// Verify walks the whole log, checking every record's MAC, sequence number
// and link to the record before it, and the head pointer against the last
// record. It locates each problem by sequence number (see Kind). known are
// checkpoints exported earlier (Head): each must still name a record with
// the same Hash, which detects a log truncated or rolled back as a whole,
// head included, past that checkpoint.
//
// Verify reads one consistent snapshot (one kv.Scan; Badger serves it from
// one read transaction), so it may run while the server appends.
//
// Damage goes in the Report; the error is for failures to read the log
// (the store, ctx). A clean log gives an empty Report.Problems, the record
// count and the head. What Verify cannot detect is in the package
// documentation.
func (l *Log) Verify(ctx context.Context, known ...Checkpoint) (Report, error) {
	w := walker{mac: l.mac}
	for _, c := range known {
		if c.Seq != 0 {
			w.checkpoints = append(w.checkpoints, c)
		}
	}
	slices.SortFunc(w.checkpoints, func(a, b Checkpoint) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	var n int
	err := l.store.Scan(prefix, func(e kv.Entry) error {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		w.entry(e)
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	if err := w.finish(l.store); err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	return w.report, nil
}

// walker checks records in key order, holding only the previous record's
// sequence number and hash.
type walker struct {
	mac         tink.MAC
	report      Report
	checkpoints []Checkpoint // sorted by Seq
	next        int          // first checkpoint not yet passed

	prevSeq   uint64 // key of the last record seen (0: none yet)
	prevHash  []byte // its Hash
	prevKnown bool   // prevHash is usable (the record decoded)
	headRaw   []byte // the head pointer, if seen
}

func (w *walker) add(seq uint64, k Kind, format string, a ...any) {
	if len(w.report.Problems) >= MaxProblems {
		w.report.Omitted++
		return
	}
	w.report.Problems = append(w.report.Problems, Problem{Seq: seq, Kind: k, Detail: fmt.Sprintf(format, a...)})
}

func (w *walker) entry(e kv.Entry) {
	if bytes.Equal(e.Key, headKey) {
		w.headRaw = e.Value
		return
	}
	ks, ok := parseRecordKey(e.Key)
	if !ok || ks == 0 {
		w.add(w.prevSeq, KindMalformed, "unexpected key of %d bytes under the log prefix after record %d", len(e.Key), w.prevSeq)
		return
	}
	w.report.Records++
	expected := w.prevSeq + 1
	gap := ks > expected
	if gap {
		w.add(expected, KindGap, "records %d..%d are missing", expected, ks-1)
	}
	// Checkpoints inside a gap are covered by the gap problem.
	for w.next < len(w.checkpoints) && w.checkpoints[w.next].Seq < ks {
		w.next++
	}
	rec, content, err := decodeStored(e.Value)
	if err != nil {
		w.add(ks, KindMalformed, "stored bytes do not decode as a record")
		w.prevSeq, w.prevHash, w.prevKnown = ks, nil, false
		return
	}
	if err := w.mac.VerifyMAC(rec.Hash, content); err != nil {
		w.add(ks, KindHashMismatch, "the record's hash is not the MAC of its content: edited or forged")
	}
	if rec.Seq != ks {
		w.add(ks, KindSeqMismatch, "stored as record %d but carries sequence number %d: moved or reordered", ks, rec.Seq)
	}
	switch {
	case gap:
		// The link across a gap is necessarily broken; the gap says why.
	case ks == 1 && len(rec.PrevHash) != 0:
		w.add(ks, KindPrevMismatch, "the first record names a previous hash: records before it were cut or it was inserted")
	case ks > 1 && w.prevKnown && !bytes.Equal(rec.PrevHash, w.prevHash):
		w.add(ks, KindPrevMismatch, "previous hash does not match record %d: inserted, replaced or reordered", ks-1)
	}
	for w.next < len(w.checkpoints) && w.checkpoints[w.next].Seq == ks {
		if !bytes.Equal(w.checkpoints[w.next].Hash, rec.Hash) {
			w.add(ks, KindCheckpointMismatch, "the record's hash differs from checkpoint %s: the log was rewritten or rolled back", w.checkpoints[w.next])
		}
		w.next++
	}
	w.prevSeq, w.prevHash, w.prevKnown = ks, rec.Hash, true
}

// finish checks the head pointer and the checkpoints past the end of the
// log. Only when the head names an earlier record does it read one more.
func (w *walker) finish(store kv.Store) error {
	last := w.prevSeq
	if w.next < len(w.checkpoints) {
		c := w.checkpoints[len(w.checkpoints)-1]
		w.add(last+1, KindTruncated, "checkpoint %s names record %d but the log ends at %d", c, c.Seq, last)
	}
	if w.headRaw == nil {
		if w.report.Records > 0 {
			w.add(last, KindHeadMissing, "the head pointer is missing; the log ends at record %d", last)
		}
		return nil
	}
	head, ok := decodeHead(w.headRaw)
	if !ok {
		w.add(last, KindHeadMismatch, "the head pointer is malformed")
		return nil
	}
	w.report.Head = head
	switch {
	case head.Seq > last:
		w.add(last+1, KindTruncated, "the head names record %d but the log ends at %d", head.Seq, last)
	case head.Seq < last:
		w.add(head.Seq+1, KindBeyondHead, "records %d..%d follow the head, which names record %d", head.Seq+1, last, head.Seq)
		v, err := store.Get([][]byte{recordKey(head.Seq)})
		if err != nil {
			return err
		}
		if v[0] == nil {
			return nil // reported as a gap
		}
		if rec, _, err := decodeStored(v[0]); err == nil && !bytes.Equal(rec.Hash, head.Hash) {
			w.add(head.Seq, KindHeadMismatch, "the head's hash is not record %d's hash", head.Seq)
		}
	case w.prevKnown && !bytes.Equal(head.Hash, w.prevHash):
		w.add(last, KindHeadMismatch, "the head's hash is not record %d's hash", last)
	}
	return nil
}
