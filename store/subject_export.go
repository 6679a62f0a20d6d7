package store

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// SubjectExport is everything stored about one subject, decrypted: the
// answer to a subject access or portability request (GDPR Art. 15 and 20,
// CCPA right to know). It holds plaintext feature values and the raw entity
// key: hand it to the subject, never log it.
type SubjectExport struct {
	Entity       string
	EntityKey    string // canonical
	BlindIndex   keys.BlindIndex
	Views        []SubjectView // views of the entity that hold rows of the subject, by name
	Restrictions []Restriction
}

// SubjectView is a subject's rows in one view, newest first.
type SubjectView struct {
	View   string
	Fields []Field
	Rows   []SubjectRow
}

// SubjectRow is one stored row of a subject.
type SubjectRow struct {
	EventTime   time.Time
	CreatedTime time.Time
	// Expired is true when the row is older than the view's TTL: online
	// reads no longer serve it, but it is stored.
	Expired bool
	Values  []any // one per field of SubjectView.Fields; nil is NULL
}

// ExportSubjectOptions configures ExportSubject.
type ExportSubjectOptions struct {
	// AllRows exports every stored row, not only each view's latest.
	AllRows bool
}

// ExportSubject returns the subject (entity, key)'s current features —
// the latest row of every view of the entity — or, with AllRows, every
// row, decrypted, with the restrictions recorded for it. It ignores
// restrictions (it serves the subject's own request) and is meant for
// admins only. A subject with no key (never written, or erased) is
// KindNotFound.
func (s *Store) ExportSubject(ctx context.Context, entity, key string, o ExportSubjectOptions) (*SubjectExport, error) {
	ent, err := s.Entity(entity)
	if err != nil {
		return nil, err
	}
	canon, err := CanonicalEntityKey(&ent, key)
	if err != nil {
		return nil, err
	}
	bi, err := s.keyring.BlindIndex(ent.Name, canon)
	if err != nil {
		return nil, err
	}
	a, _, err := s.keyring.SubjectAEAD(ent.Name, bi, false)
	if errors.Is(err, keys.ErrSubjectNotFound) {
		why := "it was never written, or it was erased"
		if sup, serr := s.suppressed(ent.Name, []keys.BlindIndex{bi}); serr == nil && sup[0] {
			why = "it was erased, with suppression"
		}
		return nil, errorf(KindNotFound, "entity %q holds no data of subject %s: %s", ent.Name, bi, why)
	}
	if err != nil {
		return nil, err
	}
	out := &SubjectExport{Entity: ent.Name, EntityKey: canon, BlindIndex: bi}
	if _, out.Restrictions, err = s.Restrictions(ent.Name, canon); err != nil {
		return nil, err
	}
	now := s.opts.now()
	for _, v := range s.Views() {
		if v.Entity != ent.Name {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		raw, err := s.subjectRows(v.ID, bi, !o.AllRows)
		if err != nil {
			return nil, err
		}
		if len(raw) == 0 {
			continue
		}
		sv := SubjectView{View: v.Name, Fields: v.Fields}
		for _, e := range raw {
			r, err := decryptSubjectRow(&v, bi, a, e)
			if err != nil {
				return nil, err
			}
			r.Expired = v.TTL > 0 && now.Sub(r.EventTime) > v.TTL
			sv.Rows = append(sv.Rows, r)
		}
		out.Views = append(out.Views, sv)
	}
	return out, nil
}

// subjectRows copies the subject's rows in a view, newest first (only the
// newest with latest).
func (s *Store) subjectRows(viewID uint32, bi keys.BlindIndex, latest bool) ([]kv.Entry, error) {
	var out []kv.Entry
	err := s.data.Seek(rowPrefix(viewID, bi), nil, func(e kv.Entry) ([]byte, error) {
		out = append(out, kv.Entry{Key: bytes.Clone(e.Key), Value: bytes.Clone(e.Value)})
		if latest {
			return nil, kv.SkipAll
		}
		return nil, nil
	})
	return out, err
}

// decryptSubjectRow decodes and decrypts one stored row of subject bi.
func decryptSubjectRow(v *View, bi keys.BlindIndex, a tink.AEAD, e kv.Entry) (SubjectRow, error) {
	_, eventNanos, ok := parseRowKey(e.Key)
	var row encodedRow
	if !ok || decodeRow(e.Value, &row) != nil || len(row.slots) > len(v.Fields) {
		return SubjectRow{}, errorf(KindCorrupt, "view %q: row of subject %s is malformed; restore the data from a backup", v.Name, bi)
	}
	out := SubjectRow{
		EventTime:   time.Unix(0, eventNanos).UTC(),
		CreatedTime: time.Unix(0, row.createdNanos).UTC(),
		Values:      make([]any, len(v.Fields)),
	}
	aad := newRowAAD(v.Name, bi, eventNanos, row.schemaVersion)
	for fi, ct := range row.slots {
		if ct == nil {
			continue
		}
		f := &v.Fields[fi]
		plain, err := a.Decrypt(ct, aad.field(f.Name))
		if err != nil {
			return SubjectRow{}, tamperError(v, f, bi)
		}
		val, ok := decodePlain(f.Type, plain)
		if !ok {
			return SubjectRow{}, tamperError(v, f, bi)
		}
		out.Values[fi] = val
	}
	return out, nil
}
