package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Restrictions (GDPR Art. 18 restriction of processing, Art. 21 objection;
// CCPA opt-out) exclude a subject from the reads made for a purpose. They
// live in the data KV's key space (see keyspace.go):
//
//	'o' | lp(entity) | bi(16)    value: JSON {"purposes": {PURPOSE: since}}
//
// named by blind index only. The purpose AllPurposes restricts every read,
// including reads that state no purpose.
const restrictTag = 'o'

// AllPurposes, as a restriction's purpose, excludes the subject from every
// read whatever its purpose.
const AllPurposes = "*"

func restrictKey(entity string, bi keys.BlindIndex) []byte {
	b := make([]byte, 0, 2+len(entity)+len(bi))
	b = append(b, restrictTag)
	b = appendLP(b, entity)
	return append(b, bi[:]...)
}

type restrictionRecord struct {
	Purposes map[string]time.Time `json:"purposes"`
}

// Restriction is one purpose a subject is excluded from, and since when.
type Restriction struct {
	Purpose string
	Since   time.Time
}

type purposeKey struct{}

// WithPurpose returns a context that states the purpose of the data
// requests made with it. GetOnline (and, once wired, scans, historical
// reads and aggregates: see ExcludeRestricted) leave out the subjects
// restricted for that purpose. A context without a purpose is subject to
// AllPurposes restrictions only.
func WithPurpose(ctx context.Context, purpose string) context.Context {
	return context.WithValue(ctx, purposeKey{}, purpose)
}

// PurposeFrom returns the purpose WithPurpose put in ctx, or "".
func PurposeFrom(ctx context.Context) string {
	p, _ := ctx.Value(purposeKey{}).(string)
	return p
}

// checkPurpose refuses purposes that cannot be a request's purpose.
func checkPurpose(purpose string) error {
	if purpose == "" || len(purpose) > 64 || strings.IndexFunc(purpose, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return errorf(KindInvalid, "purpose %q is not a purpose name: give a word such as training or analytics (at most 64 characters, no spaces), or %q for every purpose", purpose, AllPurposes)
	}
	return nil
}

// Restrict excludes the subject (entity, key) from every read made for
// purpose (AllPurposes: every read). It reports whether the restriction is
// new; restricting twice is not an error. The subject need not have data:
// a restriction recorded first applies to data written later.
func (s *Store) Restrict(ctx context.Context, entity, key, purpose string) (keys.BlindIndex, bool, error) {
	return s.changeRestriction(ctx, entity, key, purpose, true)
}

// Unrestrict lifts a restriction made by Restrict and reports whether there
// was one.
func (s *Store) Unrestrict(ctx context.Context, entity, key, purpose string) (keys.BlindIndex, bool, error) {
	return s.changeRestriction(ctx, entity, key, purpose, false)
}

func (s *Store) changeRestriction(ctx context.Context, entity, key, purpose string, add bool) (keys.BlindIndex, bool, error) {
	var bi keys.BlindIndex
	if err := checkPurpose(purpose); err != nil {
		return bi, false, err
	}
	ent, err := s.Entity(entity)
	if err != nil {
		return bi, false, err
	}
	bis, _, err := s.blindIndexes(&ent, []string{key})
	if err != nil {
		return bi, false, err
	}
	bi = bis[0]
	if err := ctx.Err(); err != nil {
		return bi, false, err
	}
	if add {
		s.restrictions.Store(2) // before the write: readers must look from now on
	}
	changed := false
	now := s.opts.now().UTC()
	err = kv.Update(s.data, restrictKey(ent.Name, bi), func(old []byte) ([]byte, error) {
		rec, err := decodeRestriction(old, ent.Name, bi)
		if err != nil {
			return nil, err
		}
		_, had := rec.Purposes[purpose]
		switch {
		case add && !had:
			rec.Purposes[purpose] = now
		case !add && had:
			delete(rec.Purposes, purpose)
		default:
			changed = false
			if old == nil {
				return nil, errNoChange
			}
			return old, nil
		}
		changed = true
		return json.Marshal(rec)
	})
	if errors.Is(err, errNoChange) {
		err = nil
	}
	return bi, changed, err
}

// noRestrictions reports whether the store holds no restriction at all, so
// that reads skip the lookup in the common case. It is learnt once from the
// KV, and set by Restrict before it writes; one process owns the data KV
// (Badger locks it), so no other writer can add one unseen. A shared engine
// would drop this shortcut.
func (s *Store) noRestrictions() (bool, error) {
	switch s.restrictions.Load() {
	case 1:
		return true, nil
	case 2:
		return false, nil
	}
	some, err := kv.HasPrefix(s.data, []byte{restrictTag})
	if err != nil {
		return false, err
	}
	if some {
		s.restrictions.Store(2)
	} else {
		s.restrictions.CompareAndSwap(0, 1)
	}
	return !some, nil
}

// errNoChange aborts an update of an absent key that would write nothing.
var errNoChange = errors.New("store: no change")

func decodeRestriction(b []byte, entity string, bi keys.BlindIndex) (restrictionRecord, error) {
	rec := restrictionRecord{Purposes: map[string]time.Time{}}
	if len(b) == 0 {
		return rec, nil
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, errorf(KindCorrupt, "restriction record of entity %q, subject %s, is malformed; restore the data from a backup", entity, bi)
	}
	if rec.Purposes == nil {
		rec.Purposes = map[string]time.Time{}
	}
	return rec, nil
}

// Restrictions lists the purposes the subject (entity, key) is excluded
// from, sorted, with its blind index.
func (s *Store) Restrictions(entity, key string) (keys.BlindIndex, []Restriction, error) {
	ent, err := s.Entity(entity)
	if err != nil {
		return keys.BlindIndex{}, nil, err
	}
	bis, _, err := s.blindIndexes(&ent, []string{key})
	if err != nil {
		return keys.BlindIndex{}, nil, err
	}
	recs, err := s.restrictionRecords(ent.Name, bis)
	if err != nil {
		return bis[0], nil, err
	}
	var out []Restriction
	for p, since := range recs[0].Purposes {
		out = append(out, Restriction{Purpose: p, Since: since})
	}
	slices.SortFunc(out, func(a, b Restriction) int { return strings.Compare(a.Purpose, b.Purpose) })
	return bis[0], out, nil
}

func (s *Store) restrictionRecords(entity string, bis []keys.BlindIndex) ([]restrictionRecord, error) {
	ks := make([][]byte, len(bis))
	for i, bi := range bis {
		ks[i] = restrictKey(entity, bi)
	}
	vals, err := s.data.Get(ks)
	if err != nil {
		return nil, err
	}
	out := make([]restrictionRecord, len(bis))
	for i, v := range vals {
		if out[i], err = decodeRestriction(v, entity, bis[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Restricted reports, for each subject of entity named by bis, whether it is
// excluded from reads made for ctx's purpose (see WithPurpose): restricted
// for that purpose or for AllPurposes. One batched KV read; subjects
// without restrictions cost a bloom-filter probe each.
func (s *Store) Restricted(ctx context.Context, entity string, bis []keys.BlindIndex) ([]bool, error) {
	if none, err := s.noRestrictions(); none || err != nil {
		return make([]bool, len(bis)), err
	}
	recs, err := s.restrictionRecords(entity, bis)
	if err != nil {
		return nil, err
	}
	purpose := PurposeFrom(ctx)
	out := make([]bool, len(bis))
	for i, r := range recs {
		_, all := r.Purposes[AllPurposes]
		_, this := r.Purposes[purpose]
		out[i] = all || (purpose != "" && this)
	}
	return out, nil
}

// ExcludeRestricted sets aeads[i] to nil for each subject of bis excluded
// from reads made for ctx's purpose. The batch paths (Scan, GetHistorical,
// and aggregates over them) already leave out the rows of subjects with a
// nil AEAD, as erased: calling this once per batch, right after the
// subjects' keys are loaded, makes them honour restrictions too.
func (s *Store) ExcludeRestricted(ctx context.Context, entity string, bis []keys.BlindIndex, aeads []tink.AEAD) error {
	r, err := s.Restricted(ctx, entity, bis)
	if err != nil {
		return err
	}
	for i, x := range r {
		if x {
			aeads[i] = nil
		}
	}
	return nil
}
