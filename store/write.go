package store

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/featurevault/featurevault/internal/fanout"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// MaxRowsPerWrite bounds one Write call, which is one atomic commit.
const MaxRowsPerWrite = 10_000

// Earliest and latest event times a row may carry (the range of int64
// nanoseconds since 1970).
var (
	minEventTime = time.Unix(0, -1<<63+1)
	maxEventTime = time.Unix(0, 1<<63-1)
)

// Write validates rows and stores them in view atomically: on any invalid
// row nothing is written, and the error names the row by position and the
// field by name (never the value or the key). A row is invalid when a
// value does not fit its field's type or breaks one of the field's
// Constraints (required, min, max, allowed, max_length).
//
// Every value is encrypted on its own under its subject's key, with the
// associated data of aad.go. A subject seen for the first time gets a new
// key, and its raw entity key is stored encrypted in a subject record.
// A row with the same entity and event time as a stored one replaces it.
//
// The subject record is written in the same commit as the rows whenever it
// is missing, so a failed write leaves at most an unused subject key, never
// a row whose subject cannot be named.
func (s *Store) Write(ctx context.Context, view string, rows []Row) (WriteResult, error) {
	v, ent, rules, err := s.lookupWrite(view)
	if err != nil {
		return WriteResult{}, err
	}
	if len(rows) == 0 {
		return WriteResult{}, errorf(KindInvalid, "write to view %q has no rows", view)
	}
	if len(rows) > MaxRowsPerWrite {
		return WriteResult{}, errorf(KindInvalid, "write of %d rows exceeds the limit of %d per request; split it", len(rows), MaxRowsPerWrite)
	}
	now := s.opts.now()
	p := newRowPreparer(v, ent, rules, now)
	p.maxValueBytes = s.opts.maxValueBytes
	prepared := make([]preparedRow, len(rows))
	for i := range rows {
		if pr := p.prepare(&rows[i], &prepared[i]); pr != nil {
			return WriteResult{}, errorf(pr.kind, "row %d: %s", i, pr.msg)
		}
	}
	res, err := s.commitRows(ctx, v, ent, prepared, now)
	if errors.Is(err, kv.ErrTooLarge) {
		return WriteResult{}, errorf(KindInvalid, "write of %d rows is too large to commit atomically; split it into smaller requests", len(rows))
	}
	return res, err
}

// preparedRow is a validated row: canonical key, values in field order,
// canonical types.
type preparedRow struct {
	key        string // canonical entity key
	subject    int    // index into the write's subjectSet, set by commit
	eventNanos int64
	values     []any
}

// rowProblem is why one row was refused: an error kind, the column it
// concerns (a field name, the join key, or "" for the event time) and a
// message that names the field, never the value or the key.
type rowProblem struct {
	kind  Kind
	field string
	msg   string
}

// rowPreparer validates the rows of one write against a view and its
// compiled constraints (nil: none), both from one registry snapshot.
type rowPreparer struct {
	v     *View
	ent   *Entity
	rules *viewRules
	now   time.Time
	index map[string]int // field name to position
	// maxValueBytes, when in 1..MaxValueBytes-1, is a lower limit per
	// value than MaxValueBytes (Options.WithMaxValueBytes).
	maxValueBytes int
}

func newRowPreparer(v *View, ent *Entity, rules *viewRules, now time.Time) *rowPreparer {
	index := make(map[string]int, len(v.Fields))
	for i := range v.Fields {
		index[v.Fields[i].Name] = i
	}
	return &rowPreparer{v: v, ent: ent, rules: rules, now: now, index: index}
}

// prepare checks r, its values' types and then the view's constraints,
// and fills out, or says what is wrong with it.
func (p *rowPreparer) prepare(r *Row, out *preparedRow) *rowProblem {
	key, err := CanonicalEntityKey(p.ent, r.EntityKey)
	if err != nil {
		return &rowProblem{kind: KindInvalid, field: p.ent.JoinKey, msg: trimPrefix(err)}
	}
	et := r.EventTime
	if et.IsZero() {
		et = p.now
	}
	if et.Before(minEventTime) || et.After(maxEventTime) {
		return &rowProblem{kind: KindInvalid, msg: "event time outside 1677-09-21..2262-04-11"}
	}
	vals := make([]any, len(p.v.Fields))
	for name, val := range r.Values {
		fi, ok := p.index[name]
		if !ok {
			return &rowProblem{kind: KindNotFound, field: name, msg: "view " + quoteName(p.v.Name) + " has no field " + quoteName(name) + "; apply a spec that adds it"}
		}
		if vals[fi], err = checkValue(&p.v.Fields[fi], val); err != nil {
			return &rowProblem{kind: KindInvalid, field: name, msg: trimPrefix(err)}
		}
		if p.maxValueBytes > 0 && p.maxValueBytes < MaxValueBytes {
			if err := checkValueBytes(&p.v.Fields[fi], vals[fi], p.maxValueBytes); err != nil {
				return &rowProblem{kind: KindInvalid, field: name, msg: trimPrefix(err)}
			}
		}
	}
	if p.rules != nil {
		if pr := p.rules.check(vals); pr != nil {
			return pr
		}
	}
	*out = preparedRow{key: key, eventNanos: et.UnixNano(), values: vals}
	return nil
}

// subjectSet holds the distinct subjects of a write, in first-seen order.
type subjectSet struct {
	keys []string // canonical entity keys
	bis  []keys.BlindIndex
}

// commitRows stores prepared rows in one atomic write: blind indexes, subject
// keys (created when new), missing subject records, then the rows,
// encrypted in parallel across cores. A batch too large for one commit
// fails with kv.ErrTooLarge and writes nothing.
func (s *Store) commitRows(ctx context.Context, v *View, ent *Entity, rows []preparedRow, now time.Time) (WriteResult, error) {
	subs := &subjectSet{}
	pos := make(map[string]int)
	for i := range rows {
		si, ok := pos[rows[i].key]
		if !ok {
			bi, err := s.keyring.BlindIndex(ent.Name, rows[i].key)
			if err != nil {
				return WriteResult{}, err
			}
			si = len(subs.keys)
			pos[rows[i].key] = si
			subs.keys = append(subs.keys, rows[i].key)
			subs.bis = append(subs.bis, bi)
		}
		rows[i].subject = si
	}
	if err := ctx.Err(); err != nil {
		return WriteResult{}, err
	}
	// Erasure hook (erase.go): hold the subjects against a concurrent
	// erasure until the commit, and refuse suppressed subjects.
	unlock := s.subjects.shared(subs.bis)
	defer unlock()
	if err := s.refuseSuppressed(ent, subs, rows); err != nil {
		return WriteResult{}, err
	}
	aeads, _, err := s.keyring.SubjectAEADs(ent.Name, subs.bis, true)
	if err != nil {
		return WriteResult{}, err
	}
	ops, err := s.missingSubjectRecords(ent, subs, aeads)
	if err != nil {
		return WriteResult{}, err
	}
	ops, values, err := encryptRows(ops, v, rows, subs, aeads, now)
	if err != nil {
		return WriteResult{}, err
	}
	if err := s.data.Apply(ops); err != nil {
		return WriteResult{}, err
	}
	return WriteResult{Rows: len(rows), Values: values}, nil
}

// missingSubjectRecords returns writes of the subject records (raw entity
// key encrypted under the subject key) that the data KV lacks.
func (s *Store) missingSubjectRecords(ent *Entity, subs *subjectSet, aeads []tink.AEAD) ([]kv.Op, error) {
	ks := make([][]byte, len(subs.bis))
	for i, bi := range subs.bis {
		ks[i] = subjectKey(ent.Name, bi)
	}
	have, err := s.data.Get(ks)
	if err != nil {
		return nil, err
	}
	var ops []kv.Op
	for i, h := range have {
		if h != nil {
			continue
		}
		ct, err := aeads[i].Encrypt([]byte(subs.keys[i]), subjectAAD(ent.Name, subs.bis[i]))
		if err != nil {
			return nil, err
		}
		ops = append(ops, kv.Op{Key: ks[i], Value: append([]byte{rowFormat}, ct...)})
	}
	return ops, nil
}

// minRowsPerWorker keeps small writes on one goroutine: below it, starting
// workers costs more than it saves.
const minRowsPerWorker = 64

// encryptRows appends one op per row to ops. Rows are split into contiguous
// chunks encrypted in parallel (AES-GCM is the bulk of a write's CPU); each
// op lands at its row's position, so the result does not depend on
// scheduling.
func encryptRows(ops []kv.Op, v *View, rows []preparedRow, subs *subjectSet, aeads []tink.AEAD, now time.Time) ([]kv.Op, int, error) {
	base := len(ops)
	ops = append(ops, make([]kv.Op, len(rows))...)
	out := ops[base:]
	var values atomic.Int64
	err := fanout.Run(len(rows), minRowsPerWorker, func(lo, hi int) error {
		n, err := encryptChunk(out[lo:hi], v, rows[lo:hi], subs, aeads, now)
		values.Add(int64(n))
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return ops, int(values.Load()), nil
}

// encryptChunk encrypts rows into out (same length) and returns the number
// of non-NULL values. The rows' encodings share one buffer, sized up front.
func encryptChunk(out []kv.Op, v *View, rows []preparedRow, subs *subjectSet, aeads []tink.AEAD, now time.Time) (int, error) {
	createdNanos := now.UnixNano()
	size := 0
	for i := range rows {
		size += rowKeyLen + encodedRowSize(v, rows[i].values)
	}
	buf := make([]byte, 0, size)
	values := 0
	var plain []byte
	for i := range rows {
		r := &rows[i]
		bi := subs.bis[r.subject]
		a := aeads[r.subject]
		start := len(buf)
		buf = appendRowKey(buf, v.ID, bi, r.eventNanos)
		keyEnd := len(buf)
		aad := newRowAAD(v.Name, bi, r.eventNanos, v.SchemaVersion)
		buf = appendRowHeader(buf, v.SchemaVersion, createdNanos, len(r.values))
		for fi, x := range r.values {
			if x == nil {
				buf = appendSlot(buf, nil)
				continue
			}
			plain = appendPlain(plain[:0], v.Fields[fi].Type, x)
			ct, err := a.Encrypt(plain, aad.field(v.Fields[fi].Name))
			if err != nil {
				return 0, err
			}
			buf = appendSlot(buf, ct)
			values++
		}
		out[i] = kv.Op{Key: buf[start:keyEnd:keyEnd], Value: buf[keyEnd:len(buf):len(buf)]}
	}
	return values, nil
}

// encodedRowSize is an upper bound on the encoded size of a row's value:
// header, and per value a slot length, the ciphertext overhead and the
// plaintext.
func encodedRowSize(v *View, values []any) int {
	n := 1 + 5 + 10 + 5
	for fi, x := range values {
		n++
		if x != nil {
			n += 4 + aeadOverhead + plainSize(v.Fields[fi].Type, x)
		}
	}
	return n
}

// aeadOverhead is what AES-256-GCM adds to a plaintext: a 12-byte nonce and
// a 16-byte tag (no Tink output prefix).
const aeadOverhead = 28

// trimPrefix drops the "store: " prefix of a nested store error.
func trimPrefix(err error) string {
	if e, ok := err.(*Error); ok {
		return e.msg
	}
	return err.Error()
}

// appendRowKey appends the row key of (view, subject, event time) to b; see
// keyspace.go.
func appendRowKey(b []byte, viewID uint32, bi keys.BlindIndex, eventNanos int64) []byte {
	b = append(b, rowTag)
	b = binary.BigEndian.AppendUint32(b, viewID)
	b = append(b, bi[:]...)
	return binary.BigEndian.AppendUint64(b, invertTime(eventNanos))
}

// plainSize is the length of appendPlain's encoding of x, a checked value.
func plainSize(t FieldType, x any) int {
	switch t {
	case Bool:
		return 1
	case Int64, Float64:
		return 8
	case Timestamp:
		return 12
	case String:
		return len(x.(string))
	case Bytes:
		return len(x.([]byte))
	case Float32List:
		return 4 * len(x.([]float32))
	}
	return 0
}
