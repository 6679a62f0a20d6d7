package store

import (
	"bytes"
	"context"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// This file is what an online tier (package online) needs from the store
// to keep copies of the latest rows outside it: the encrypted rows as they
// are stored, the subjects a commit touched, and the read path's decryption
// applied to rows that came from elsewhere. Nothing here decrypts outside
// the store or hands out a raw entity key.

// TierRow is the encrypted latest row of one (view, subject) as an online
// tier holds it: the store's own encoding (schema version, created time
// and the per-value ciphertexts, each bound by its associated data to the
// view, subject, event time and field) and the event time, which is part
// of the associated data but lives in the row key. Value is nil when the
// subject has no row.
type TierRow struct {
	EventNanos   int64
	CreatedNanos int64
	Value        []byte
}

// RowSubject returns the view ID and subject of a data-KV row key, and
// false for any other key (registry, subject records, other packages').
func RowSubject(key []byte) (viewID uint32, bi keys.BlindIndex, ok bool) {
	bi, _, ok = parseRowKey(key)
	if !ok {
		return 0, bi, false
	}
	return uint32(key[1])<<24 | uint32(key[2])<<16 | uint32(key[3])<<8 | uint32(key[4]), bi, true
}

// ViewByID returns the view with the given ID.
func (s *Store) ViewByID(id uint32) (View, bool) {
	for _, v := range s.snapshot().views {
		if v.ID == id {
			return cloneView(v), true
		}
	}
	return View{}, false
}

// SubjectIndexes checks a read of entityKeys from view as GetOnline does
// and returns the view and each key's blind index.
func (s *Store) SubjectIndexes(view string, entityKeys []string) (View, []keys.BlindIndex, error) {
	v, ent, err := s.lookup(view)
	if err != nil {
		return View{}, nil, err
	}
	if len(entityKeys) == 0 {
		return View{}, nil, errorf(KindInvalid, "read of view %q names no entity keys", view)
	}
	if len(entityKeys) > MaxEntitiesPerRead {
		return View{}, nil, errorf(KindInvalid, "read of %d entity keys exceeds the limit of %d per request; split it", len(entityKeys), MaxEntitiesPerRead)
	}
	bis := make([]keys.BlindIndex, len(entityKeys))
	for i, k := range entityKeys {
		key, err := CanonicalEntityKey(ent, k)
		if err != nil {
			return View{}, nil, errorf(KindInvalid, "entity key %d: %s", i, trimPrefix(err))
		}
		if bis[i], err = s.keyring.BlindIndex(ent.Name, key); err != nil {
			return View{}, nil, err
		}
	}
	return cloneView(v), bis, nil
}

// LatestRows returns the stored latest row of each subject in the view
// with ID viewID (a TierRow with a nil Value where there is none), read
// from data, which is the store's data KV or a wrapper of it.
func LatestRows(data kv.Store, viewID uint32, bis []keys.BlindIndex) ([]TierRow, error) {
	prefixes := make([][]byte, len(bis))
	for i, bi := range bis {
		prefixes[i] = rowPrefix(viewID, bi)
	}
	found, err := data.First(prefixes)
	if err != nil {
		return nil, err
	}
	out := make([]TierRow, len(bis))
	for i, e := range found {
		if e.Key == nil {
			continue
		}
		_, ev, ok := parseRowKey(e.Key)
		created, ok2 := rowCreated(e.Value)
		if !ok || !ok2 {
			return nil, errorf(KindCorrupt, "row of subject %s is malformed; restore the data from a backup", bis[i])
		}
		out[i] = TierRow{EventNanos: ev, CreatedNanos: created, Value: e.Value}
	}
	return out, nil
}

// ScanLatest calls fn with the latest row of every subject of view whose
// event time is at or after since (zero: every subject), in blind-index
// order, until fn returns an error.
func (s *Store) ScanLatest(ctx context.Context, view string, since time.Time, fn func(bi keys.BlindIndex, r TierRow) error) error {
	v, _, err := s.lookup(view)
	if err != nil {
		return err
	}
	prefix := rowPrefix(v.ID, keys.BlindIndex{})[:5]
	var last keys.BlindIndex
	first := true
	return s.data.Seek(prefix, nil, func(e kv.Entry) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bi, ev, ok := parseRowKey(e.Key)
		if !ok {
			return nil, errorf(KindCorrupt, "view %q: a row key is malformed; restore the data from a backup", v.Name)
		}
		if !first && bi == last {
			return nil, nil
		}
		first, last = false, bi
		// The next subject starts after every row of this one.
		next := append(bytes.Clone(e.Key[:21]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)
		if !since.IsZero() && ev < since.UnixNano() {
			return next, nil
		}
		created, ok := rowCreated(e.Value)
		if !ok {
			return nil, errorf(KindCorrupt, "view %q: row of subject %s is malformed; restore the data from a backup", v.Name, bi)
		}
		if err := fn(bi, TierRow{EventNanos: ev, CreatedNanos: created, Value: bytes.Clone(e.Value)}); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// DecryptLatest answers an online read from rows obtained elsewhere (an
// online tier): rows[i] must be the latest row of bis[i], the blind index
// of entityKeys[i] in view (see SubjectIndexes). It applies exactly what
// GetOnline applies to the rows it reads itself: erased subjects and
// subjects restricted for the request's purpose read as NOT_FOUND, rows
// older than the view's TTL as EXPIRED, and every value is decrypted with
// associated data recomputed from the view, subject, event time and schema
// version, so a ciphertext moved to another key, view, subject or field, or
// altered, fails the call with a KindCorrupt error.
func (s *Store) DecryptLatest(ctx context.Context, view string, entityKeys []string, bis []keys.BlindIndex, rows []TierRow, features []string) (*OnlineResult, error) {
	v, ent, err := s.lookup(view)
	if err != nil {
		return nil, err
	}
	if len(bis) != len(entityKeys) || len(rows) != len(entityKeys) {
		return nil, errorf(KindInvalid, "decrypt of %d entity keys got %d blind indexes and %d rows", len(entityKeys), len(bis), len(rows))
	}
	names, pos, err := selectFields(v, features)
	if err != nil {
		return nil, err
	}
	aeads, _, err := s.keyring.SubjectAEADs(ent.Name, bis, false)
	if err != nil {
		return nil, err
	}
	if err := s.ExcludeRestricted(ctx, ent.Name, bis, aeads); err != nil {
		return nil, err
	}
	now := s.opts.now()
	res := &OnlineResult{Features: names, Rows: make([]OnlineRow, len(entityKeys))}
	var row encodedRow
	for i := range rows {
		out := &res.Rows[i]
		out.EntityKey = entityKeys[i]
		out.Values = make([]any, len(pos))
		out.Statuses = make([]Status, len(pos))
		if rows[i].Value == nil || aeads[i] == nil {
			fill(out.Statuses, NotFound)
			continue
		}
		if decodeRow(rows[i].Value, &row) != nil {
			return nil, errorf(KindCorrupt, "view %q: row of subject %s is malformed", v.Name, bis[i])
		}
		out.EventTime = time.Unix(0, rows[i].EventNanos).UTC()
		if v.TTL > 0 && now.Sub(out.EventTime) > v.TTL {
			fill(out.Statuses, Expired)
			continue
		}
		aad := newRowAAD(v.Name, bis[i], rows[i].EventNanos, row.schemaVersion)
		for j, fi := range pos {
			if fi >= len(row.slots) || row.slots[fi] == nil {
				out.Statuses[j] = Null
				continue
			}
			f := &v.Fields[fi]
			plain, err := aeads[i].Decrypt(row.slots[fi], aad.field(f.Name))
			if err != nil {
				return nil, tamperError(v, f, bis[i])
			}
			val, ok := decodePlain(f.Type, plain)
			if !ok {
				return nil, tamperError(v, f, bis[i])
			}
			out.Values[j], out.Statuses[j] = val, Present
		}
	}
	return res, nil
}

// WithDataWrapper makes Open pass its data KV through wrap, and keep
// everything in the store wrapped: an online tier uses it to see every
// commit that writes or deletes rows (an outbox written in the same atomic
// batch) whatever the caller — Write, Ingest, Erase, RotateSubjectKey.
func (o Options) WithDataWrapper(wrap func(kv.Store) kv.Store) Options { o.wrap = wrap; return o }
