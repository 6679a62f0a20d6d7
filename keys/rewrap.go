package keys

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/featurevault/featurevault/internal/fanout"
	"github.com/featurevault/featurevault/kv"
)

// DefaultRewrapBatch is how many keys Rewrap re-wraps per atomic write.
const DefaultRewrapBatch = 512

// RewrapOptions configures Rewrap. The zero value is usable.
type RewrapOptions struct {
	// BatchSize is the number of keys per atomic keystore write (0:
	// DefaultRewrapBatch; a negative size is refused with
	// ErrInvalidArgument). The cursor advances with each batch.
	BatchSize int
	// Progress, when set, is called after each batch (from Rewrap's
	// goroutine).
	Progress func(RewrapProgress)
}

// RewrapProgress reports a rewrap run. Counts are of wrapped keys: subject
// keys, the blind-index key and service keysets.
type RewrapProgress struct {
	Target  uint32        // the KEK version everything is being re-wrapped under
	Total   int           // keys not yet under Target when this run started
	Done    int           // keys this run re-wrapped
	Gone    int           // keys erased before their turn (nothing to do)
	Failed  int           // keys that did not unwrap (left as they were)
	Resumed bool          // this run continued an interrupted rewrap
	Elapsed time.Duration // since this run started
}

// RewrapCursor is the saved position of an unfinished rewrap (m/rewrap):
// the target version, the last keystore key passed and the count so far.
// It names subjects by keystore key only (entity name and blind index).
type RewrapCursor struct {
	Target  uint32    `json:"target"`
	After   string    `json:"after,omitempty"` // hex of the last subject key passed
	Done    int       `json:"done"`            // keys re-wrapped by every run so far
	Started time.Time `json:"started"`
}

// Rewrap re-wraps every key the KEK wraps — subject keys, the blind-index
// key, service keysets — under the KEK's primary version, so that older
// versions end up wrapping nothing and can be retired. Subject keys
// themselves do not change: cached keys stay valid and no value is
// re-encrypted.
//
// It is resumable. Each batch of re-wrapped keys is written in one atomic
// keystore write together with the cursor (m/rewrap); after a crash or a
// cancelled ctx, the next Rewrap continues after the last committed batch
// (when the primary version has not changed meanwhile) and keys already
// under the primary are skipped without being decrypted. A key erased or
// rotated while Rewrap runs is left alone: each batch is committed under the
// subjects' locks, only over the values it read.
//
// Before it counts or walks anything, Rewrap waits out every stripe lock
// (awaitStripes): a subject key created or rotated just as the KEK rotated
// may have been wrapped under the old primary and not yet stored, and
// could otherwise land behind the walk — a single run's or a resumed one's
// — leaving a key under the old version after a "complete" rewrap. A cursor
// is only resumed when its target is still the primary, so the run that
// made it began after the newest rotation and waited out the same wraps.
//
// Rewrap reports completion (nil error, LastRewrap recorded) only when a
// closing census agrees: no key left under any version but the target.
// Otherwise it removes the cursor, so that the next run walks from the
// start, and returns ErrVersionInUse saying how many keys are left (for
// example keys an earlier, interrupted run passed because they did not
// unwrap, or a service keyset created under the old version while it ran).
//
// A key that does not unwrap is counted in Failed and left as it was; Rewrap
// then returns ErrSubjectUnwrap naming the first few, after doing the rest.
// It returns ErrBusy while another key operation runs.
func (k *Keyring) Rewrap(ctx context.Context, o RewrapOptions) (RewrapProgress, error) {
	if o.BatchSize < 0 {
		return RewrapProgress{}, fmt.Errorf("%w: rewrap batch size %d is negative; use 0 for the default (%d) or a positive number", ErrInvalidArgument, o.BatchSize, DefaultRewrapBatch)
	}
	if err := k.beginLifecycle(ctx); err != nil {
		return RewrapProgress{}, err
	}
	defer k.life.Unlock()
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultRewrapBatch
	}
	started := time.Now()
	k.awaitStripes() // see above: wraps begun before the rotation land first
	target := k.kekNow.load().primary
	p := RewrapProgress{Target: target}
	cur, err := k.loadCursor()
	if err != nil {
		return p, err
	}
	if cur != nil && cur.Target == target {
		p.Resumed = true
	} else {
		cur = &RewrapCursor{Target: target, Started: k.now().UTC()}
	}
	c, err := k.takeCensus(ctx)
	if err != nil {
		return p, err
	}
	subj, svc := c.notUnder(target)
	p.Total = subj + svc
	report := func() {
		p.Elapsed = time.Since(started)
		if o.Progress != nil {
			o.Progress(p)
		}
	}
	if err := k.rewrapService(target, &p); err != nil {
		return p, err
	}
	report()
	after, err := hex.DecodeString(cur.After)
	if err != nil {
		after = nil // a damaged cursor: start over (already re-wrapped keys are skipped cheaply)
	}
	var failures []string
	for {
		if err := ctx.Err(); err != nil {
			return p, fmt.Errorf("keys: rewrap stopped after %d keys (resume with another rewrap): %w", p.Done, err)
		}
		batch, last, err := k.nextRewrapBatch(after, target, o.BatchSize)
		if err != nil {
			return p, err
		}
		if last == nil {
			break
		}
		failed := k.rewrapCrypto(batch)
		for _, it := range batch {
			if it.err != nil && len(failures) < 3 {
				failures = append(failures, it.err.Error())
			}
		}
		cur.After = hex.EncodeToString(last)
		done, gone, err := k.commitRewrap(batch, cur)
		if err != nil {
			return p, fmt.Errorf("keys: rewrap stopped after %d keys (resume with another rewrap, which continues from the last batch stored): %w", p.Done, err)
		}
		cur.Done += done
		p.Done += done
		p.Gone += gone
		p.Failed += failed
		after = last
		report()
	}
	end, err := k.takeCensus(ctx)
	if err != nil {
		return p, fmt.Errorf("keys: rewrap walked every key but could not check the result (run it again): %w", err)
	}
	left, leftSvc := end.notUnder(target)
	hist, err := k.loadMeta()
	if err != nil {
		return p, err
	}
	if p.Failed == 0 && left+leftSvc == 0 {
		hist.LastRewrap = k.now().UTC()
	}
	mb, err := hist.encode()
	if err != nil {
		return p, err
	}
	if err := k.store.Apply([]kv.Op{{Key: keyRewrap, Delete: true}, {Key: keyMeta, Value: mb}}); err != nil {
		return p, fmt.Errorf("keys: finish rewrap: %w", err)
	}
	p.Elapsed = time.Since(started)
	if p.Failed > 0 {
		return p, fmt.Errorf("%w: rewrap left %d keys as they were because they do not unwrap (first: %s); the KEK versions wrapping them cannot be retired until they are restored from a keystore backup or their subjects erased", ErrSubjectUnwrap, p.Failed, failures)
	}
	if left+leftSvc > 0 {
		return p, fmt.Errorf("%w: rewrap walked every key, but %d subject keys and %d service keysets are still wrapped by KEK versions other than the primary, %d (passed by an earlier interrupted run because they did not unwrap, or written while this one ran); nothing is lost: run `featurevault keys rewrap` again, which walks from the start", ErrVersionInUse, left, leftSvc, target)
	}
	k.log.Info("keys: rewrap finished", "target", target, "rewrapped", p.Done, "gone", p.Gone, "elapsed", p.Elapsed)
	return p, nil
}

// notUnder counts the subject keys and service keysets in c that are not
// wrapped by version target (subject keys with an unreadable header
// included).
func (c *census) notUnder(target uint32) (subjects, service int) {
	subjects = c.total - c.subjects[target]
	for id, n := range c.service {
		if id != target {
			service += n
		}
	}
	return subjects, service
}

// rewrapItem is one subject key in a rewrap batch.
type rewrapItem struct {
	key, old, fresh []byte
	err             error
}

// nextRewrapBatch collects up to n subject keys after the key after (from
// the start when nil) that are not wrapped by target. last is the last
// keystore key passed (nil when none was left).
func (k *Keyring) nextRewrapBatch(after []byte, target uint32, n int) ([]*rewrapItem, []byte, error) {
	start := prefixSubject
	if after != nil {
		start = append(slices.Clone(after), 0) // the first key after it
	}
	var batch []*rewrapItem
	var last []byte
	err := k.store.Seek(prefixSubject, start, func(e kv.Entry) ([]byte, error) {
		last = append(last[:0], e.Key...)
		if id, ok := wrappedBy(e.Value); ok && id == target {
			return nil, nil
		}
		batch = append(batch, &rewrapItem{key: bytes.Clone(e.Key), old: bytes.Clone(e.Value)})
		if len(batch) == n {
			return nil, kv.SkipAll
		}
		return nil, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("keys: read keystore: %w", err)
	}
	return batch, last, nil
}

// rewrapCrypto unwraps each item's key and wraps it under the primary KEK
// version, in parallel across cores. The cleartext keyset never leaves Tink.
// It returns how many failed.
func (k *Keyring) rewrapCrypto(batch []*rewrapItem) int {
	_ = fanout.Run(len(batch), 32, func(lo, hi int) error {
		for _, it := range batch[lo:hi] {
			id := it.key[len(prefixSubject):]
			ad := subjectAD(id)
			h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(it.old)), k.kek, ad)
			if err == nil {
				it.fresh, err = wrap(h, k.kek, ad)
			}
			if err != nil {
				it.err = fmt.Errorf("%s (%v)", describeSubject(id), err)
			}
		}
		return nil // each item keeps its own error
	})
	n := 0
	for _, it := range batch {
		if it.err != nil {
			n++
		}
	}
	return n
}

// commitRewrap stores the batch's re-wrapped keys and the cursor in one
// atomic write, under the locks of the subjects' stripes: a key whose value
// changed since it was read (erased, rotated) is left alone.
func (k *Keyring) commitRewrap(batch []*rewrapItem, cur *RewrapCursor) (done, gone int, err error) {
	stripes := make([]int, 0, len(batch))
	keys := make([][]byte, 0, len(batch))
	var live []*rewrapItem
	for _, it := range batch {
		if it.err != nil {
			continue
		}
		live = append(live, it)
		keys = append(keys, it.key)
		stripes = append(stripes, k.stripe(it.key[len(prefixSubject):]))
	}
	defer k.lockStripesOf(stripes)()
	now, err := k.store.Get(keys)
	if err != nil {
		return 0, 0, fmt.Errorf("keys: read keystore: %w", err)
	}
	ops := make([]kv.Op, 0, len(live)+1)
	for i, it := range live {
		switch {
		case now[i] == nil:
			gone++
		case bytes.Equal(now[i], it.old):
			ops = append(ops, kv.Op{Key: it.key, Value: it.fresh})
			done++
		}
	}
	next := *cur
	next.Done += done
	cb, err := json.Marshal(next)
	if err != nil {
		return 0, 0, fmt.Errorf("keys: encode rewrap cursor: %w", err)
	}
	ops = append(ops, kv.Op{Key: keyRewrap, Value: cb})
	if err := k.store.Apply(ops); err != nil {
		return 0, 0, err
	}
	return done, gone, nil
}

// errUnchanged aborts a kv.Update that has nothing to write.
var errUnchanged = errors.New("keys: unchanged")

// rewrapService re-wraps the blind-index key and every service keyset not
// under target, each in its own atomic read-modify-write.
func (k *Keyring) rewrapService(target uint32, p *RewrapProgress) error {
	type slot struct{ key, ad []byte }
	slots := []slot{{keyPRF, adPRF}}
	err := k.store.Scan(prefixNamed, func(e kv.Entry) error {
		name := string(e.Key[len(prefixNamed):])
		slots = append(slots, slot{bytes.Clone(e.Key), appendLP(bytes.Clone(adNamed), name)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("keys: read keystore: %w", err)
	}
	for _, s := range slots {
		err := kv.Update(k.store, s.key, func(old []byte) ([]byte, error) {
			if old == nil {
				return nil, errUnchanged
			}
			if id, ok := wrappedBy(old); ok && id == target {
				return nil, errUnchanged
			}
			h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(old)), k.kek, s.ad)
			if err != nil {
				return nil, fmt.Errorf("%w: %s does not unwrap under the KEK (%v); restore the keystore from backup", ErrKeystoreDamaged, s.key, err)
			}
			return wrap(h, k.kek, s.ad)
		})
		switch {
		case errors.Is(err, errUnchanged):
		case err != nil:
			return err
		default:
			p.Done++
		}
	}
	return nil
}

// loadCursor reads the unfinished rewrap's cursor, or nil.
func (k *Keyring) loadCursor() (*RewrapCursor, error) {
	v, err := k.store.Get([][]byte{keyRewrap})
	if err != nil {
		return nil, fmt.Errorf("keys: read keystore: %w", err)
	}
	if v[0] == nil {
		return nil, nil
	}
	c := &RewrapCursor{}
	if err := json.Unmarshal(v[0], c); err != nil {
		return nil, nil // a damaged cursor only costs a walk from the start
	}
	return c, nil
}

// describeSubject names a subject by its keystore id: entity and blind index.
func describeSubject(id []byte) string {
	entity, bi, ok := parseSubjectID(id)
	if !ok {
		return fmt.Sprintf("keystore key s/%x", id)
	}
	return fmt.Sprintf("entity %q, blind index %s", entity, bi)
}

// parseSubjectID splits a subject's keystore id, lp(entity) || bi.
func parseSubjectID(id []byte) (entity string, bi BlindIndex, ok bool) {
	n, w := binary.Uvarint(id)
	// Compare n with what is left, never n+16: a length near 2^64 would
	// wrap around and pass. A padded varint (a last byte of zero after the
	// first) is not one subjectID writes, so that id names no subject.
	if w <= 0 || (w > 1 && id[w-1] == 0) || n > uint64(len(id)-w) || uint64(len(id)-w)-n != uint64(len(BlindIndex{})) { // #nosec G115 -- w <= len(id) and n is compared, not used
		return "", bi, false
	}
	copy(bi[:], id[w+int(n):])                // #nosec G115 -- n < len(id), checked above
	return string(id[w : w+int(n)]), bi, true // #nosec G115 -- n < len(id), checked above
}
