package store

import (
	"context"
	"errors"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
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
// field by name (never the value or the key).
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
	v, ent, err := s.lookup(view)
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
	prepared, subjects, err := s.prepareRows(v, ent, rows, now)
	if err != nil {
		return WriteResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return WriteResult{}, err
	}
	aeads, _, err := s.keyring.SubjectAEADs(ent.Name, subjects.bis, true)
	if err != nil {
		return WriteResult{}, err
	}
	ops, err := s.missingSubjectRecords(ent, subjects, aeads)
	if err != nil {
		return WriteResult{}, err
	}
	ops, values, err := s.encryptRows(ops, v, prepared, subjects, aeads, now)
	if err == nil {
		err = s.data.Apply(ops)
	}
	if err != nil {
		if errors.Is(err, kv.ErrTooLarge) {
			return WriteResult{}, errorf(KindInvalid, "write of %d rows is too large to commit atomically; split it into smaller requests", len(rows))
		}
		return WriteResult{}, err
	}
	return WriteResult{Rows: len(rows), Values: values}, nil
}

// preparedRow is a validated row: values in field order, canonical types.
type preparedRow struct {
	subject    int // index into subjects
	eventNanos int64
	values     []any
}

// subjectSet holds the distinct subjects of a write, in first-seen order.
type subjectSet struct {
	keys []string // canonical entity keys
	bis  []keys.BlindIndex
	pos  map[string]int
}

func (s *Store) prepareRows(v *View, ent *Entity, rows []Row, now time.Time) ([]preparedRow, *subjectSet, error) {
	subs := &subjectSet{pos: make(map[string]int)}
	out := make([]preparedRow, len(rows))
	for i := range rows {
		r := &rows[i]
		key, err := CanonicalEntityKey(ent, r.EntityKey)
		if err != nil {
			return nil, nil, errorf(KindInvalid, "row %d: %s", i, trimPrefix(err))
		}
		si, ok := subs.pos[key]
		if !ok {
			bi, err := s.keyring.BlindIndex(ent.Name, key)
			if err != nil {
				return nil, nil, err
			}
			si = len(subs.keys)
			subs.pos[key] = si
			subs.keys = append(subs.keys, key)
			subs.bis = append(subs.bis, bi)
		}
		et := r.EventTime
		if et.IsZero() {
			et = now
		}
		if et.Before(minEventTime) || et.After(maxEventTime) {
			return nil, nil, errorf(KindInvalid, "row %d: event time outside 1677-09-21..2262-04-11", i)
		}
		vals := make([]any, len(v.Fields))
		for name, val := range r.Values {
			f, fi, ok := v.Field(name)
			if !ok {
				return nil, nil, errorf(KindNotFound, "row %d: view %q has no field %q; apply a spec that adds it", i, v.Name, name)
			}
			if vals[fi], err = checkValue(&f, val); err != nil {
				return nil, nil, errorf(KindInvalid, "row %d: %s", i, trimPrefix(err))
			}
		}
		out[i] = preparedRow{subject: si, eventNanos: et.UnixNano(), values: vals}
	}
	return out, subs, nil
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

func (s *Store) encryptRows(ops []kv.Op, v *View, rows []preparedRow, subs *subjectSet, aeads []tink.AEAD, now time.Time) ([]kv.Op, int, error) {
	createdNanos := now.UnixNano()
	values := 0
	var plain []byte
	for _, r := range rows {
		bi := subs.bis[r.subject]
		a := aeads[r.subject]
		aad := newRowAAD(v.Name, bi, r.eventNanos, v.SchemaVersion)
		val := appendRowHeader(make([]byte, 0, 16+len(r.values)*40), v.SchemaVersion, createdNanos, len(r.values))
		for fi, x := range r.values {
			if x == nil {
				val = appendSlot(val, nil)
				continue
			}
			plain = appendPlain(plain[:0], v.Fields[fi].Type, x)
			ct, err := a.Encrypt(plain, aad.field(v.Fields[fi].Name))
			if err != nil {
				return nil, 0, err
			}
			val = appendSlot(val, ct)
			values++
		}
		ops = append(ops, kv.Op{Key: rowKey(v.ID, bi, r.eventNanos), Value: val})
	}
	return ops, values, nil
}

// trimPrefix drops the "store: " prefix of a nested store error.
func trimPrefix(err error) string {
	if e, ok := err.(*Error); ok {
		return e.msg
	}
	return err.Error()
}
