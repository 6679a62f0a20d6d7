package store

import (
	"context"
	"time"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/featurevault/featurevault/internal/fanout"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// MaxEntitiesPerRead bounds the entity keys of one GetOnline call.
const MaxEntitiesPerRead = 1000

// GetOnline returns, for each entity key in order, the values of features
// (all fields of the view when empty) from the entity's latest row, with a
// status per value: PRESENT, NULL, NOT_FOUND (no row, the subject was
// erased, or it is restricted for the purpose stated with WithPurpose) or EXPIRED (the latest row is older than the view's TTL).
//
// Each value is decrypted with associated data recomputed from the row's key
// and the registry; a value that fails authentication fails the whole call
// with a KindCorrupt error rather than return anything wrong.
func (s *Store) GetOnline(ctx context.Context, view string, entityKeys []string, features []string) (*OnlineResult, error) {
	v, ent, err := s.lookup(view)
	if err != nil {
		return nil, err
	}
	if len(entityKeys) == 0 {
		return nil, errorf(KindInvalid, "read of view %q names no entity keys", view)
	}
	if len(entityKeys) > MaxEntitiesPerRead {
		return nil, errorf(KindInvalid, "read of %d entity keys exceeds the limit of %d per request; split it", len(entityKeys), MaxEntitiesPerRead)
	}
	names, pos, err := selectFields(v, features)
	if err != nil {
		return nil, err
	}
	bis := make([]keys.BlindIndex, len(entityKeys))
	prefixes := make([][]byte, len(entityKeys))
	prefixBuf := make([]byte, 0, len(entityKeys)*rowPrefixLen) // one allocation for every prefix
	for i, k := range entityKeys {
		key, err := CanonicalEntityKey(ent, k)
		if err != nil {
			return nil, errorf(KindInvalid, "entity key %d: %s", i, trimPrefix(err))
		}
		if bis[i], err = s.keyring.BlindIndex(ent.Name, key); err != nil {
			return nil, err
		}
		start := len(prefixBuf)
		prefixBuf = appendRowPrefix(prefixBuf, v.ID, bis[i])
		prefixes[i] = prefixBuf[start:len(prefixBuf):len(prefixBuf)]
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	found, err := s.data.First(prefixes)
	if err != nil {
		return nil, err
	}
	aeads, _, err := s.keyring.SubjectAEADs(ent.Name, bis, false)
	if err != nil {
		return nil, err
	}
	// Subjects restricted for the request's purpose read as not found
	// (restrict.go).
	if err := s.ExcludeRestricted(ctx, ent.Name, bis, aeads); err != nil {
		return nil, err
	}
	res := &OnlineResult{Features: names, Rows: make([]OnlineRow, len(entityKeys))}
	// One allocation each for every row's values and statuses.
	m := len(pos)
	values := make([]any, m*len(entityKeys))
	statuses := make([]Status, m*len(entityKeys))
	for i := range res.Rows {
		out := &res.Rows[i]
		out.EntityKey = entityKeys[i]
		out.Values = values[i*m : (i+1)*m : (i+1)*m]
		out.Statuses = statuses[i*m : (i+1)*m : (i+1)*m]
	}
	rr := rowReader{v: v, pos: pos, now: s.opts.now()}
	err = fanout.Run(len(found), readPerPart, func(lo, hi int) error {
		return rr.read(found[lo:hi], bis[lo:hi], aeads[lo:hi], res.Rows[lo:hi])
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// readPerPart is the fewest entities of an online read decrypted on a
// goroutine of their own (each is up to a row of values).
const readPerPart = 8

// rowReader decrypts the latest rows of one view's subjects into
// OnlineRows; each part of a read (fanout.Run) calls read on rows of its own.
type rowReader struct {
	v   *View
	pos []int // the view's fields to return, in order
	now time.Time
}

// read fills out[i] from found[i], the latest row of subject bis[i] (nil
// Key: none), decrypting with aeads[i] (nil: the subject is erased or
// restricted).
func (rr *rowReader) read(found []kv.Entry, bis []keys.BlindIndex, aeads []tink.AEAD, out []OnlineRow) error {
	v := rr.v
	row := encodedRow{slots: make([][]byte, 0, len(v.Fields))}
	for i, e := range found {
		out := &out[i]
		if e.Key == nil || aeads[i] == nil {
			fill(out.Statuses, NotFound)
			continue
		}
		_, eventNanos, ok := parseRowKey(e.Key)
		if !ok || decodeRow(e.Value, &row) != nil {
			return errorf(KindCorrupt, "view %q: row of subject %s is malformed", v.Name, bis[i])
		}
		out.EventTime = time.Unix(0, eventNanos).UTC()
		if v.TTL > 0 && rr.now.Sub(out.EventTime) > v.TTL {
			fill(out.Statuses, Expired)
			continue
		}
		aad := newRowAAD(v.Name, bis[i], eventNanos, row.schemaVersion)
		for j, fi := range rr.pos {
			if fi >= len(row.slots) || row.slots[fi] == nil {
				out.Statuses[j] = Null
				continue
			}
			f := &v.Fields[fi]
			plain, err := aeads[i].Decrypt(row.slots[fi], aad.field(f.Name))
			if err != nil {
				return tamperError(v, f, bis[i])
			}
			val, ok := decodePlain(f.Type, plain)
			if !ok {
				return tamperError(v, f, bis[i])
			}
			out.Values[j], out.Statuses[j] = val, Present
		}
	}
	return nil
}

// selectFields resolves requested feature names to field positions.
func selectFields(v *View, features []string) ([]string, []int, error) {
	if len(features) == 0 {
		names := make([]string, len(v.Fields))
		pos := make([]int, len(v.Fields))
		for i, f := range v.Fields {
			names[i], pos[i] = f.Name, i
		}
		return names, pos, nil
	}
	pos := make([]int, len(features))
	for i, name := range features {
		if i < len(v.Fields) && v.Fields[i].Name == name { // the common case: view order
			pos[i] = i
			continue
		}
		_, fi, ok := v.Field(name)
		if !ok {
			return nil, nil, errorf(KindNotFound, "view %q has no field %q", v.Name, name)
		}
		pos[i] = fi
	}
	return features, pos, nil
}

func tamperError(v *View, f *Field, bi keys.BlindIndex) error {
	return errorf(KindCorrupt, "value of field %q in view %q (subject %s) failed authentication: it was altered, moved from another row, field or subject, or encrypted under another key; restore the data from a backup", f.Name, v.Name, bi)
}

func fill(s []Status, st Status) {
	for i := range s {
		s[i] = st
	}
}
