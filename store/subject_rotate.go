package store

import (
	"context"
	"errors"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// SubjectKeyRotation reports what RotateSubjectKey re-encrypted.
type SubjectKeyRotation struct {
	BlindIndex keys.BlindIndex
	Rows       int      // rows re-encrypted, over every view of the entity
	Views      []string // the views that held rows of the subject
}

// RotateSubjectKey gives the subject (entity, key) a fresh key and
// re-encrypts every value of it under that key — its rows in every view of
// the entity and its subject record — then destroys the old key. Each value
// keeps its associated data, created time and schema version.
//
// Writes of the subject wait while it runs. A crash midway leaves the
// subject's keyset holding both keys, so every value still decrypts; run it
// again to finish. A subject with no key is KindNotFound.
func (s *Store) RotateSubjectKey(ctx context.Context, entity, key string) (SubjectKeyRotation, error) {
	ent, err := s.Entity(entity)
	if err != nil {
		return SubjectKeyRotation{}, err
	}
	bis, _, err := s.blindIndexes(&ent, []string{key})
	if err != nil {
		return SubjectKeyRotation{}, err
	}
	bi := bis[0]
	out := SubjectKeyRotation{BlindIndex: bi}
	unlock := s.subjects.exclusive(bis)
	defer unlock()
	a, err := s.keyring.BeginSubjectRotation(ent.Name, bi)
	if errors.Is(err, keys.ErrSubjectNotFound) {
		return out, errorf(KindNotFound, "entity %q has no key for subject %s: it was never written, or it was erased", ent.Name, bi)
	}
	if err != nil {
		return out, err
	}
	var ops []kv.Op
	for _, v := range s.Views() {
		if v.Entity != ent.Name {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		raw, err := s.subjectRows(v.ID, bi, false)
		if err != nil {
			return out, err
		}
		for _, e := range raw {
			val, err := reencryptRow(&v, bi, a, e.Key, e.Value)
			if err != nil {
				return out, err
			}
			ops = append(ops, kv.Op{Key: e.Key, Value: val})
		}
		if len(raw) > 0 {
			out.Rows += len(raw)
			out.Views = append(out.Views, v.Name)
		}
	}
	rk := subjectKey(ent.Name, bi)
	rec, err := s.data.Get([][]byte{rk})
	if err != nil {
		return out, err
	}
	if r := rec[0]; len(r) > 0 {
		aad := subjectAAD(ent.Name, bi)
		raw, err := a.Decrypt(r[1:], aad)
		if r[0] != rowFormat || err != nil {
			return out, subjectRecordError(&ent, bi)
		}
		ct, err := a.Encrypt(raw, aad)
		if err != nil {
			return out, err
		}
		ops = append(ops, kv.Op{Key: rk, Value: append([]byte{rowFormat}, ct...)})
	}
	for len(ops) > 0 {
		n := min(len(ops), eraseChunk)
		if err := s.applySplitting(ops[:n]); err != nil {
			return out, err
		}
		ops = ops[n:]
	}
	return out, s.keyring.FinishSubjectRotation(ent.Name, bi)
}

// reencryptRow decrypts every value of a stored row with a (which holds the
// old and the new key) and encrypts it again under a's primary, with the
// same associated data.
func reencryptRow(v *View, bi keys.BlindIndex, a tink.AEAD, key, value []byte) ([]byte, error) {
	_, eventNanos, ok := parseRowKey(key)
	var row encodedRow
	if !ok || decodeRow(value, &row) != nil || len(row.slots) > len(v.Fields) {
		return nil, errorf(KindCorrupt, "view %q: row of subject %s is malformed; restore the data from a backup", v.Name, bi)
	}
	aad := newRowAAD(v.Name, bi, eventNanos, row.schemaVersion)
	out := appendRowHeader(make([]byte, 0, len(value)), row.schemaVersion, row.createdNanos, len(row.slots))
	for fi, ct := range row.slots {
		if ct == nil {
			out = appendSlot(out, nil)
			continue
		}
		f := &v.Fields[fi]
		ad := aad.field(f.Name)
		plain, err := a.Decrypt(ct, ad)
		if err != nil {
			return nil, tamperError(v, f, bi)
		}
		fresh, err := a.Encrypt(plain, ad)
		if err != nil {
			return nil, err
		}
		out = appendSlot(out, fresh)
	}
	return out, nil
}
