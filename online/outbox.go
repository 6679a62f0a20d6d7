package online

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// The outbox lives in the store's data KV, under its own prefix:
//
//	"t/o/" | be32(view ID) | blind index (16) | be64(sequence)   value: be64(enqueued, unix ns)
//
// An entry says "this (view, subject) changed in the store; copy its
// latest row to Redis". It is written in the same atomic batch as the rows
// it concerns (the wrapper below adds it to every Apply that writes or
// deletes a row), so a commit and its outbox entry exist together or not
// at all. The tier deletes an entry once Redis holds the store's latest
// row for it (or nothing, for a deleted row). An entry holds no value and
// no raw entity key: only the view's ID and the blind index already in the
// row key.
var outboxPrefix = []byte("t/o/")

const outboxKeyLen = 4 + 4 + 16 + 8

func outboxKey(s subject, seq uint64) []byte {
	b := make([]byte, 0, outboxKeyLen)
	b = append(b, outboxPrefix...)
	b = binary.BigEndian.AppendUint32(b, s.viewID)
	b = append(b, s.bi[:]...)
	return binary.BigEndian.AppendUint64(b, seq)
}

func parseOutboxKey(k []byte) (subject, bool) {
	var s subject
	if len(k) != outboxKeyLen {
		return s, false
	}
	s.viewID = binary.BigEndian.Uint32(k[4:])
	copy(s.bi[:], k[8:24])
	return s, true
}

// changedSubjects returns the distinct (view, subject) pairs whose rows ops
// write or delete.
func changedSubjects(ops []kv.Op) []subject {
	var out []subject
	var seen map[subject]bool
	for _, op := range ops {
		vid, bi, ok := store.RowSubject(op.Key)
		if !ok {
			continue
		}
		s := subject{vid, bi}
		if seen == nil {
			seen = map[subject]bool{}
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// outboxKV is the store's data KV as the tier wraps it (Tier.Wrap).
type outboxKV struct {
	kv.Store
	t *Tier
}

// Apply commits ops and, when they write or delete rows, outbox entries
// for the rows' subjects in the same atomic batch; then it copies the
// subjects' latest rows to Redis and deletes the entries. The commit's
// caller (a write, an erasure) is acknowledged only after that copy was
// tried. When Redis fails, the entries stay, reads of those subjects go to
// the store, and the drainer retries.
func (w *outboxKV) Apply(ops []kv.Op) error {
	subs := changedSubjects(ops)
	if len(subs) == 0 {
		return w.Store.Apply(ops)
	}
	now := time.Now()
	enq := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano())) // #nosec G115 -- a time after 1970
	all := make([]kv.Op, len(ops), len(ops)+len(subs))
	copy(all, ops)
	oks := make([]string, len(subs))
	for i, s := range subs {
		k := outboxKey(s, w.t.seq.Add(1))
		all = append(all, kv.Op{Key: k, Value: enq})
		oks[i] = string(k)
	}
	w.t.addPending(oks, subs, now)
	if err := w.Store.Apply(all); err != nil {
		w.t.donePending(oks)
		return err
	}
	if w.t.crashAfterCommit.Load() {
		return nil // tests: the process "dies" between the commit and the copy
	}
	if !w.t.up.Load() {
		return nil // Redis is down: do not make the write wait; the drainer copies it
	}
	w.t.syncEntries(context.Background(), oks)
	return nil
}

// Update passes a read-modify-write through (kv.Updater); such writes
// never touch rows.
func (w *outboxKV) Update(key []byte, fn func(old []byte) ([]byte, error)) error {
	if _, _, ok := store.RowSubject(key); ok {
		return errRowUpdate
	}
	return kv.Update(w.Store, key, fn)
}

// Backup and Load pass through (kv.Backuper): a backup holds the outbox
// too, and a restored store's tier is rebuilt with materialize.
func (w *outboxKV) Backup(wr io.Writer, since uint64) (uint64, error) {
	return kv.Backup(w.Store, wr, since)
}

func (w *outboxKV) Load(r io.Reader) error {
	b, ok := w.Store.(kv.Backuper)
	if !ok {
		return kv.ErrNoBackup
	}
	return b.Load(r)
}

var errRowUpdate = errors.New("online: a read-modify-write of a row key would bypass the outbox; write rows with Apply")

// pendingEntry is an outbox entry not yet applied to Redis.
type pendingEntry struct {
	s   subject
	enq time.Time
}

func (t *Tier) addPending(oks []string, subs []subject, now time.Time) {
	t.gen.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, k := range oks {
		t.outbox[k] = pendingEntry{subs[i], now}
		t.pending[subs[i]]++
	}
}

// donePending forgets entries; each is forgotten once.
func (t *Tier) donePending(oks []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range oks {
		e, ok := t.outbox[k]
		if !ok {
			continue
		}
		delete(t.outbox, k)
		if t.pending[e.s]--; t.pending[e.s] <= 0 {
			delete(t.pending, e.s)
		}
	}
}

// isPending reports whether (view, subject) has an outbox entry not yet
// applied: its copy in Redis may be older than the store's row.
func (t *Tier) isPending(viewID uint32, bi keys.BlindIndex) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending[subject{viewID, bi}] > 0
}

// syncEntries copies the latest rows of the entries' subjects to Redis
// and deletes the entries it applied.
func (t *Tier) syncEntries(ctx context.Context, oks []string) {
	t.mu.Lock()
	subs := make([]subject, 0, len(oks))
	live := oks[:0:0]
	for _, k := range oks {
		if e, ok := t.outbox[k]; ok {
			subs = append(subs, e.s)
			live = append(live, k)
		}
	}
	t.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	if err := t.sync(ctx, subs); err != nil {
		t.redisFailed("write", err)
		return
	}
	t.redisOK()
	ops := make([]kv.Op, len(live))
	for i, k := range live {
		ops[i] = kv.Op{Key: []byte(k), Delete: true}
	}
	if err := t.inner.Apply(ops); err != nil {
		t.log.Error("online tier: deleting applied outbox entries failed; they will be applied again", "entries", len(ops), "error", err)
		return
	}
	t.donePending(live)
}

// loadOutbox reads the entries left by a previous run (a crash between a
// commit and its copy to Redis).
func (t *Tier) loadOutbox() (int, error) {
	var oks []string
	var subs []subject
	var enqs []time.Time
	err := t.inner.Scan(outboxPrefix, func(e kv.Entry) error {
		s, ok := parseOutboxKey(e.Key)
		if !ok {
			return nil
		}
		var enq time.Time
		if len(e.Value) == 8 {
			enq = time.Unix(0, int64(binary.BigEndian.Uint64(e.Value))) // #nosec G115 -- written by Apply
		}
		oks = append(oks, string(e.Key))
		subs = append(subs, s)
		enqs = append(enqs, enq)
		return nil
	})
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	for i, k := range oks {
		t.outbox[k] = pendingEntry{subs[i], enqs[i]}
		t.pending[subs[i]]++
	}
	t.mu.Unlock()
	t.gen.Add(1)
	return len(oks), nil
}

// Drain applies every pending outbox entry to Redis now, and returns how
// many remain (Redis failed for them).
func (t *Tier) Drain(ctx context.Context) int {
	t.mu.Lock()
	oks := make([]string, 0, len(t.outbox))
	for k := range t.outbox {
		oks = append(oks, k)
	}
	t.mu.Unlock()
	for len(oks) > 0 {
		n := min(len(oks), 512)
		t.syncEntries(ctx, oks[:n])
		oks = oks[n:]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.outbox)
}

// drainer retries pending entries every interval until stop is closed.
func (t *Tier) drainer(interval time.Duration) {
	defer close(t.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			if t.depth() > 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				t.Drain(ctx)
				cancel()
			}
		}
	}
}

func (t *Tier) depth() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.outbox)
}
