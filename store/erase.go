package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// Suppression entries, in the data KV's key space (see keyspace.go):
//
//	'x' | lp(entity) | bi(16)    value: varint(unix ns of the erasure)
//
// An entry refuses every later write for the subject. It holds the blind
// index only: a keyed pseudonym, kept so that an erased person's data is
// not ingested again (GDPR Art. 17 and 21, CCPA deletion).
const suppressTag = 'x'

func suppressKey(entity string, bi keys.BlindIndex) []byte {
	b := make([]byte, 0, 2+len(entity)+len(bi))
	b = append(b, suppressTag)
	b = appendLP(b, entity)
	return append(b, bi[:]...)
}

// MaxErasePerCall bounds the entity keys of one Erase call.
const MaxErasePerCall = 10_000

// eraseChunk is how many deletes go in one atomic data write.
const eraseChunk = 8192

// EraseOptions configures Erase.
type EraseOptions struct {
	// Suppress keeps a suppression entry for each subject, by blind index,
	// that makes every later write of it fail with KindConflict.
	Suppress bool
}

// Erasure is the receipt of one subject's erasure: what was destroyed. It
// names the subject by blind index only.
type Erasure struct {
	BlindIndex    keys.BlindIndex
	KeyDestroyed  bool     // the subject had a key, and it is deleted
	RecordDeleted bool     // the encrypted raw entity key is deleted
	Rows          int      // rows deleted, over every view of the entity
	Views         []string // the views that held rows of the subject, sorted
	Suppressed    bool     // later writes of the subject are refused
	ErasedAt      time.Time
}

// Erase erases the subjects of entity named by entityKeys (crypto-shredding):
//
//   - each subject's key is deleted from the keystore and evicted from the
//     key cache (one atomic write for all): nothing of the subject decrypts
//     through this store any more, wherever its bytes are;
//   - at the same time, its rows in every view of the entity and its
//     subject record (the encrypted raw entity key) are deleted, with the
//     suppression entries when o.Suppress is set, in atomic writes of up to
//     8192 deletes.
//
// Reads, scans, exports and aggregates no longer see the subjects. Writes of
// these subjects wait while Erase runs, and afterwards create a fresh key
// (or, suppressed, are refused). Copies of the old bytes — backups, Badger's
// value log until compaction — stay undecryptable once the KEK version that
// wrapped the key is retired: see docs/shred-horizon.md.
//
// Erasing a subject that has nothing stored is not an error (its receipt
// says nothing was destroyed), so Erase can be run again after a failure,
// which it reports saying what is left. Receipts come
// in the order of entityKeys; a key given twice gets the same receipt twice.
// Errors name subjects by position in entityKeys or by blind index, never
// by raw key.
func (s *Store) Erase(ctx context.Context, entity string, entityKeys []string, o EraseOptions) ([]Erasure, error) {
	ent, err := s.Entity(entity)
	if err != nil {
		return nil, err
	}
	if len(entityKeys) == 0 {
		return nil, errorf(KindInvalid, "erase of entity %q names no entity keys", entity)
	}
	if len(entityKeys) > MaxErasePerCall {
		return nil, errorf(KindInvalid, "erase of %d entity keys exceeds the limit of %d per request; split it", len(entityKeys), MaxErasePerCall)
	}
	bis, at, err := s.blindIndexes(&ent, entityKeys)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock := s.subjects.exclusive(bis)
	defer unlock()
	now := s.opts.now().UTC()
	receipts := make([]Erasure, len(bis))
	for i, bi := range bis {
		receipts[i] = Erasure{BlindIndex: bi, Suppressed: o.Suppress, ErasedAt: now}
	}

	ops, err := s.erasureOps(&ent, bis, receipts)
	if err != nil {
		return nil, err
	}
	if o.Suppress {
		val := binary.AppendVarint(nil, now.UnixNano())
		for _, bi := range bis {
			ops = append(ops, kv.Op{Key: suppressKey(ent.Name, bi), Value: val})
		}
	}
	// The keys (keystore) and the rows (data KV) are destroyed at once, each
	// durably, so an erasure costs one disk sync, not two in a row. Until
	// both are done the subjects' writes wait; a crash in between leaves
	// either ciphertext without a key or a key without data, and running the
	// erasure again finishes it.
	var existed []bool
	var keyErr error
	var wg sync.WaitGroup
	wg.Go(func() { existed, keyErr = s.keyring.ForgetSubjects(ent.Name, bis) })
	var dataErr error
	for rest := ops; len(rest) > 0 && dataErr == nil; {
		n := min(len(rest), eraseChunk)
		dataErr = s.applySplitting(rest[:n])
		rest = rest[n:]
	}
	wg.Wait()
	switch {
	case keyErr != nil:
		return nil, fmt.Errorf("store: the erasure of %d subjects of entity %q failed before their keys were destroyed; run it again: %w", len(bis), ent.Name, errors.Join(keyErr, dataErr))
	case dataErr != nil:
		return nil, erasedKeysOnly(len(bis), dataErr)
	}
	for i := range receipts {
		receipts[i].KeyDestroyed = existed[i]
	}
	out := make([]Erasure, len(entityKeys))
	for i, j := range at {
		out[i] = receipts[j]
	}
	return out, nil
}

// blindIndexes canonicalises keys and derives their distinct blind indexes;
// at[i] is the position of keys[i]'s subject in bis.
func (s *Store) blindIndexes(ent *Entity, entityKeys []string) (bis []keys.BlindIndex, at []int, err error) {
	pos := make(map[keys.BlindIndex]int, len(entityKeys))
	at = make([]int, len(entityKeys))
	for i, k := range entityKeys {
		key, err := CanonicalEntityKey(ent, k)
		if err != nil {
			return nil, nil, errorf(KindInvalid, "entity key %d: %s", i, trimPrefix(err))
		}
		bi, err := s.keyring.BlindIndex(ent.Name, key)
		if err != nil {
			return nil, nil, err
		}
		j, ok := pos[bi]
		if !ok {
			j = len(bis)
			pos[bi] = j
			bis = append(bis, bi)
		}
		at[i] = j
	}
	return bis, at, nil
}

// erasureOps lists the deletes of the subjects' rows (every view of the
// entity) and subject records, and fills the receipts' counts.
func (s *Store) erasureOps(ent *Entity, bis []keys.BlindIndex, receipts []Erasure) ([]kv.Op, error) {
	var ops []kv.Op
	for _, v := range s.Views() {
		if v.Entity != ent.Name {
			continue
		}
		rows, err := s.subjectRowKeys(v.ID, bis)
		if err != nil {
			return nil, err
		}
		for i, keys := range rows {
			if len(keys) == 0 {
				continue
			}
			receipts[i].Rows += len(keys)
			receipts[i].Views = append(receipts[i].Views, v.Name) // Views() is sorted by name
			for _, k := range keys {
				ops = append(ops, kv.Op{Key: k, Delete: true})
			}
		}
	}
	recs := make([][]byte, len(bis))
	for i, bi := range bis {
		recs[i] = subjectKey(ent.Name, bi)
	}
	have, err := s.data.Get(recs)
	if err != nil {
		return nil, err
	}
	for i, h := range have {
		if h != nil {
			receipts[i].RecordDeleted = true
			ops = append(ops, kv.Op{Key: recs[i], Delete: true})
		}
	}
	return ops, nil
}

// subjectRowKeys returns the row keys of each subject of bis in the view:
// one walk of the view's key range in blind-index order, skipping from one
// subject's rows to the next.
func (s *Store) subjectRowKeys(viewID uint32, bis []keys.BlindIndex) ([][][]byte, error) {
	out := make([][][]byte, len(bis))
	if len(bis) == 0 {
		return out, nil
	}
	order := make([]int, len(bis))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(bis[a][:], bis[b][:]) })
	viewPrefix := binary.BigEndian.AppendUint32([]byte{rowTag}, viewID)
	next := 0
	err := s.data.Seek(viewPrefix, rowPrefix(viewID, bis[order[0]]), func(e kv.Entry) ([]byte, error) {
		bi, _, ok := parseRowKey(e.Key)
		if !ok {
			return nil, nil
		}
		for next < len(order) {
			want := bis[order[next]]
			switch c := bytes.Compare(bi[:], want[:]); {
			case c < 0:
				return rowPrefix(viewID, want), nil
			case c == 0:
				out[order[next]] = append(out[order[next]], bytes.Clone(e.Key))
				return nil, nil
			default:
				next++
			}
		}
		return nil, kv.SkipAll
	})
	return out, err
}

// applySplitting applies ops atomically, halving the batch while the KV
// says it is too large.
func (s *Store) applySplitting(ops []kv.Op) error {
	err := s.data.Apply(ops)
	if errors.Is(err, kv.ErrTooLarge) && len(ops) > 1 {
		h := len(ops) / 2
		if err := s.applySplitting(ops[:h]); err != nil {
			return err
		}
		return s.applySplitting(ops[h:])
	}
	return err
}

func erasedKeysOnly(n int, err error) error {
	return fmt.Errorf("store: the keys of the %d subjects are destroyed (nothing of them decrypts any more), but deleting their rows failed: run the erase again to remove the remaining ciphertext: %w", n, err)
}

// suppressed reports, for each subject of entity named by bis, whether an
// erasure with suppression refuses its writes.
func (s *Store) suppressed(entity string, bis []keys.BlindIndex) ([]bool, error) {
	ks := make([][]byte, len(bis))
	for i, bi := range bis {
		ks[i] = suppressKey(entity, bi)
	}
	vals, err := s.data.Get(ks)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(bis))
	for i, v := range vals {
		out[i] = v != nil
	}
	return out, nil
}

// refuseSuppressed fails a write that has a row of a suppressed subject,
// naming the first such row by position and its subject by blind index.
// commitRows calls it with the subjects' locks held.
func (s *Store) refuseSuppressed(ent *Entity, subs *subjectSet, rows []preparedRow) error {
	sup, err := s.suppressed(ent.Name, subs.bis)
	if err != nil {
		return err
	}
	for i := range rows {
		if sup[rows[i].subject] {
			return errorf(KindConflict, "row %d: subject %s of entity %q was erased with suppression, so writes for it are refused; remove its rows from the input", i, subs.bis[rows[i].subject], ent.Name)
		}
	}
	return nil
}
