package store

import (
	"bytes"
	"context"
	"slices"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/featurevault/featurevault/internal/fanout"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// batchSubjects are the distinct subjects of one batch of rows, with their
// keys and, when asked for, their raw entity keys.
type batchSubjects struct {
	bis   []keys.BlindIndex
	aeads []tink.AEAD // nil: the subject has no key (erased)
	names []string    // raw entity keys; "" when unknown
	recs  [][]byte    // encrypted subject records, when names are wanted
	of    []int       // per row: index into bis
}

// groupSubjects lists the distinct blind indexes of rows, in first-seen
// order, and maps each row to its subject. Rows of one subject are usually
// adjacent (scans read in key order), so the last subject is checked
// before the map.
func groupSubjects(rowBIs []keys.BlindIndex, into *batchSubjects) {
	into.bis = into.bis[:0]
	into.of = resize(into.of, len(rowBIs))
	var pos map[keys.BlindIndex]int
	for r, bi := range rowBIs {
		if n := len(into.bis); n > 0 && into.bis[n-1] == bi {
			into.of[r] = n - 1
			continue
		}
		if pos == nil {
			pos = make(map[keys.BlindIndex]int)
		}
		si, ok := pos[bi]
		if !ok {
			si = len(into.bis)
			pos[bi] = si
			into.bis = append(into.bis, bi)
		}
		into.of[r] = si
	}
}

// resolveSubjects loads the AEAD of each subject (never creating one) and,
// with names, decrypts each subject record to recover the raw entity key.
// A subject whose key or record is missing — erased, or being erased — is
// left with a nil AEAD, and its rows are not returned. A record that does
// not decrypt under its subject's key with the subject's associated data is
// KindCorrupt: it was altered or moved.
func (s *Store) resolveSubjects(ctx context.Context, ent *Entity, subs *batchSubjects, names bool) error {
	if err := s.loadSubjects(ctx, ent, subs, names); err != nil {
		return err
	}
	return decryptNames(ent, subs)
}

// loadSubjects is the I/O half of resolveSubjects: AEADs from the keyring
// and, with names, the encrypted subject records from the KV.
//
// Keys missing from the keyring's cache are unwrapped with the KEK, which
// costs microseconds each; a scan over more subjects than the cache holds
// meets many, so the batch is split across cores.
func (s *Store) loadSubjects(ctx context.Context, ent *Entity, subs *batchSubjects, names bool) error {
	subs.aeads = resize(subs.aeads, len(subs.bis))
	err := fanout.Run(len(subs.bis), minRowsPerWorker, func(lo, hi int) error {
		aeads, _, err := s.keyring.SubjectAEADs(ent.Name, subs.bis[lo:hi], false)
		copy(subs.aeads[lo:hi], aeads)
		return err
	})
	if err != nil {
		return err
	}
	// Subjects restricted for the purpose in ctx are left out like erased
	// ones (their AEAD nil), so no batch path serves them.
	if err := s.ExcludeRestricted(ctx, ent.Name, subs.bis, subs.aeads); err != nil {
		return err
	}
	subs.names = resize(subs.names, len(subs.bis))
	clear(subs.names)
	subs.recs = nil
	if !names {
		return nil
	}
	subs.recs, err = s.subjectRecords(ent, subs.bis)
	return err
}

// decryptNames is the CPU half of resolveSubjects: it decrypts the loaded
// records in parallel.
func decryptNames(ent *Entity, subs *batchSubjects) error {
	if subs.recs == nil {
		return nil
	}
	return fanout.Run(len(subs.bis), minRowsPerWorker, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			rec := subs.recs[i]
			if subs.aeads[i] == nil {
				continue
			}
			if len(rec) == 0 {
				subs.aeads[i] = nil
				continue
			}
			if rec[0] != rowFormat {
				return subjectRecordError(ent, subs.bis[i])
			}
			raw, err := subs.aeads[i].Decrypt(rec[1:], subjectAAD(ent.Name, subs.bis[i]))
			if err != nil {
				return subjectRecordError(ent, subs.bis[i])
			}
			subs.names[i] = string(raw)
		}
		return nil
	})
}

// subjectRecords reads the subject records of bis (nil where missing).
// Records are keyed by blind index under the entity's prefix, in the same
// order as a scan meets subjects, so when bis ascend (they do for scans)
// one walk with skips reads them all, mostly by stepping to the next key;
// otherwise it falls back to a batched get.
func (s *Store) subjectRecords(ent *Entity, bis []keys.BlindIndex) ([][]byte, error) {
	ascending := slices.IsSortedFunc(bis, func(a, b keys.BlindIndex) int { return bytes.Compare(a[:], b[:]) })
	if !ascending || len(bis) < 2 {
		ks := make([][]byte, len(bis))
		for i, bi := range bis {
			ks[i] = subjectKey(ent.Name, bi)
		}
		return s.data.Get(ks)
	}
	out := make([][]byte, len(bis))
	prefix := appendLP([]byte{subjectTag}, ent.Name)
	next := 0
	err := s.data.Seek(prefix, subjectKey(ent.Name, bis[0]), func(e kv.Entry) ([]byte, error) {
		bi := e.Key[len(prefix):]
		for next < len(bis) {
			switch c := bytes.Compare(bi, bis[next][:]); {
			case c < 0:
				return subjectKey(ent.Name, bis[next]), nil // skip to the next wanted record
			case c == 0:
				out[next] = bytes.Clone(e.Value)
				next++
				if next < len(bis) {
					return nil, nil // usually the very next key
				}
			default:
				next++ // no record for this subject
			}
		}
		return nil, kv.SkipAll
	})
	return out, err
}

func subjectRecordError(ent *Entity, bi keys.BlindIndex) error {
	return errorf(KindCorrupt, "subject record of entity %q, subject %s, failed authentication: it was altered, moved from another subject, or encrypted under another key; restore the data from a backup", ent.Name, bi)
}
