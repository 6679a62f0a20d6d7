package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// MaxHistoricalRows bounds the entity rows of one GetHistorical call.
const MaxHistoricalRows = 65_536

// HistoricalOptions configures GetHistorical.
type HistoricalOptions struct {
	// Features names the fields to read, in column order; empty means every
	// field of the view.
	Features []string
	// CreatedCutoff, when set, ignores rows written after it, as if they
	// had not arrived yet (see ScanOptions.CreatedCutoff): it reproduces a
	// training set as it could have been built at the cutoff, before late
	// (backfilled) rows arrived.
	CreatedCutoff time.Time
}

// GetHistorical is the point-in-time lookup that training sets are built
// from without label leakage. For each entity row i (keys[i], at[i]) it
// returns the values of the entity's latest row whose event time is at or
// before at[i] — never a later one — and within the view's TTL of it
// (at[i] minus the event time at most the TTL). Row i of the batch answers
// entity row i; Found(i) is false when no row qualifies (none early enough,
// all too old, an erased subject or an unknown entity), and its values are
// then NULL.
//
// Lookups are sorted by row key and answered in one pass over the view's
// keys with skips, so n lookups cost n seeks, not a scan of the view. Keys
// are canonicalised as Write does; an invalid key fails the call, naming
// its position.
func (s *Store) GetHistorical(ctx context.Context, view string, entityKeys []string, at []time.Time, o HistoricalOptions) (*Batch, error) {
	v, ent, err := s.lookup(view)
	if err != nil {
		return nil, err
	}
	if len(entityKeys) != len(at) {
		return nil, errorf(KindInvalid, "%d entity keys but %d timestamps; give one timestamp per entity row", len(entityKeys), len(at))
	}
	if len(entityKeys) > MaxHistoricalRows {
		return nil, errorf(KindInvalid, "%d entity rows exceed the limit of %d per call; split them", len(entityKeys), MaxHistoricalRows)
	}
	_, pos, err := selectFields(v, o.Features)
	if err != nil {
		return nil, err
	}
	h := &historical{ctx: ctx, s: s, v: v, ent: ent}
	if !o.CreatedCutoff.IsZero() {
		h.cutoff, h.createdCutoff = true, o.CreatedCutoff.UnixNano()
	}
	if err := h.targets(entityKeys, at); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(h.order) > 0 {
		prefix := binary.BigEndian.AppendUint32([]byte{rowTag}, v.ID)
		if err := s.data.Seek(prefix, h.key(h.order[0]), h.visit); err != nil {
			return nil, err
		}
	}
	b := &Batch{fields: make([]Field, len(pos))}
	for j, fi := range pos {
		b.fields[j] = cloneField(v.Fields[fi])
	}
	return b, h.decrypt(b, entityKeys, pos)
}

// historical is one GetHistorical call: its lookups in key order and what
// the pass over the view found for them.
type historical struct {
	ctx context.Context // carries the purpose restrictions are checked for
	s   *Store
	v   *View
	ent *Entity

	cutoff        bool
	createdCutoff int64

	keys  []byte // lookup i's target row key: keys[i*rowKeyLen:(i+1)*rowKeyLen]
	bis   []keys.BlindIndex
	at    []int64
	order []int // lookups sorted by target key
	next  int   // position in order of the lookup being answered
	hit   []int // per lookup: index into raw, or -1
	raw   rawRows
	last  []byte // key of the last raw row, to share it between lookups
}

func (h *historical) key(i int) []byte { return h.keys[i*rowKeyLen : (i+1)*rowKeyLen] }

// targets canonicalises the keys, computes each distinct key's blind index
// once, and sorts the lookups by target row key: the subject's row key at
// the lookup time, which sorts just before the subject's rows at or before
// that time.
func (h *historical) targets(entityKeys []string, at []time.Time) error {
	n := len(entityKeys)
	h.keys = make([]byte, 0, n*rowKeyLen)
	h.bis = make([]keys.BlindIndex, n)
	h.at = make([]int64, n)
	h.hit = make([]int, n)
	h.order = make([]int, n)
	known := make(map[string]keys.BlindIndex)
	for i, k := range entityKeys {
		key, err := CanonicalEntityKey(h.ent, k)
		if err != nil {
			return errorf(KindInvalid, "entity row %d: %s", i, trimPrefix(err))
		}
		if at[i].IsZero() || at[i].Before(minEventTime) || at[i].After(maxEventTime) {
			return errorf(KindInvalid, "entity row %d: timestamp is missing or outside 1677-09-21..2262-04-11", i)
		}
		bi, ok := known[key]
		if !ok {
			if bi, err = h.s.keyring.BlindIndex(h.ent.Name, key); err != nil {
				return err
			}
			known[key] = bi
		}
		h.bis[i], h.at[i], h.hit[i], h.order[i] = bi, at[i].UnixNano(), -1, i
		h.keys = appendRowKey(h.keys, h.v.ID, bi, h.at[i])
	}
	slices.SortFunc(h.order, func(a, b int) int { return bytes.Compare(h.key(a), h.key(b)) })
	return nil
}

// visit is the Seek callback. The walk is positioned at the first key at
// or after the current lookup's target: that key answers the lookup if it
// is a row of the lookup's subject, within the TTL and (with a cutoff)
// written in time; a row written too late sends the walk to the subject's
// next older row. One key can answer several lookups in a row (the same
// entity at close times), so each answered lookup is followed by the next
// one against the same key before the walk moves.
func (h *historical) visit(e kv.Entry) ([]byte, error) {
	bi, ev, ok := parseRowKey(e.Key)
	if !ok {
		return nil, errorf(KindCorrupt, "view %q holds a malformed row key; restore the data from a backup", h.v.Name)
	}
	for ; h.next < len(h.order); h.next++ {
		i := h.order[h.next]
		if t := h.key(i); bytes.Compare(e.Key, t) < 0 {
			return t, nil // this lookup's rows start further on
		}
		if bi != h.bis[i] {
			continue // the subject has no row at or before the time
		}
		if ttl := int64(h.v.TTL); ttl > 0 && h.at[i] >= math.MinInt64+ttl && ev < h.at[i]-ttl {
			continue // the latest row is older than the TTL allows
		}
		created, ok := rowCreated(e.Value)
		if !ok {
			return nil, errorf(KindCorrupt, "view %q: row of subject %s is malformed; restore the data from a backup", h.v.Name, bi)
		}
		if h.cutoff && created > h.createdCutoff {
			return nil, nil // written after the cutoff: look at the older row
		}
		if !bytes.Equal(h.last, e.Key) {
			h.raw.add(bi, ev, created, e.Value)
			h.last = append(h.last[:0], e.Key...)
		}
		h.hit[i] = h.raw.len() - 1
	}
	return nil, kv.SkipAll
}

// decrypt fills b with one row per lookup, decrypting each distinct hit
// once; lookups that share a hit share its plaintext.
func (h *historical) decrypt(b *Batch, entityKeys []string, pos []int) error {
	n := len(entityKeys)
	b.reset(n)
	var subs batchSubjects
	groupSubjects(h.raw.bis, &subs)
	if err := h.s.resolveSubjects(h.ctx, h.ent, &subs, false); err != nil {
		return err
	}
	dst := make([]int, h.raw.len())
	aeads := make([]tink.AEAD, h.raw.len())
	for r := range dst {
		dst[r] = -1
		aeads[r] = subs.aeads[subs.of[r]]
	}
	for i := range n {
		b.keys[i] = entityKeys[i]
		r := h.hit[i]
		if r < 0 || aeads[r] == nil {
			continue
		}
		if dst[r] < 0 {
			dst[r] = i
		}
		b.found[i] = true
		b.subjects[i] = h.raw.bis[r]
		b.events[i], b.created[i] = h.raw.events[r], h.raw.created[r]
	}
	job := decryptJob{v: h.v, pos: pos, raw: &h.raw, aeads: aeads, dst: dst, cells: b.cells}
	if err := job.run(); err != nil {
		return err
	}
	m := len(pos)
	for i := range n {
		if r := h.hit[i]; b.found[i] && dst[r] != i {
			copy(b.cells[i*m:(i+1)*m], b.cells[dst[r]*m:(dst[r]+1)*m])
		}
	}
	return nil
}
