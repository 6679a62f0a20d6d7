// Package online keeps the latest encrypted row of every (view, subject)
// in Redis Cluster, so that online reads are served at Redis speed while
// Redis never holds a readable value or a raw entity key.
//
// What Redis holds is exactly what the store holds: the per-value
// ciphertexts of the row (encrypted under the subject's key, bound by
// associated data to view, subject, event time and field), its schema
// version and created time, under a key made of the view's ID and the
// subject's blind index (keys.go). The server decrypts what it reads from
// Redis with the store's own read path (store.DecryptLatest), so erasure,
// restriction, TTLs and tamper detection apply unchanged: a value altered
// or moved in Redis fails authentication, and the read is then answered
// from the store.
//
// Consistency. The store is the source of truth and commits first. Every
// commit that writes or deletes rows carries, in the same atomic batch, an
// outbox entry per (view, subject) (outbox.go); after the commit the tier
// copies the store's latest row to Redis and deletes the entry, and only
// then is the write acknowledged. The rule readers get: a read is served
// from Redis only for a (view, subject) with no outbox entry pending in
// this server; a pending entry (Redis was down, or the process died
// between commit and copy and restarted) sends the read to the store. So a
// read never returns a row older than one whose write this server
// acknowledged. Copies into Redis never replace a newer row (a Lua
// compare on event and created time), and a read's fill of a miss is
// dropped when any commit happened meanwhile.
//
// With several servers over one store, each sees only its own outbox:
// another server's read can return the previous row until this server's
// drainer applies an entry that Redis refused. That window exists only
// while Redis fails writes.
package online

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// DrainInterval is how often pending outbox entries are retried.
const DrainInterval = 250 * time.Millisecond

// ProbeInterval is how often, while Redis is down, one read tries Redis;
// the others go straight to the store.
const ProbeInterval = 250 * time.Millisecond

// Tier is the Redis online tier of one store. Create it with New, pass
// Wrap to the store's options (store.Options.WithDataWrapper), then Attach
// the opened store before serving.
type Tier struct {
	rc    redis.UniversalClient
	log   *slog.Logger
	st    atomic.Pointer[store.Store]
	inner kv.Store // the unwrapped data KV

	mu      sync.Mutex
	outbox  map[string]pendingEntry // pending outbox entries by key
	pending map[subject]int         // pending entries per (view, subject)

	gen atomic.Uint64 // bumped by every commit of rows: fills compare it
	seq atomic.Uint64 // outbox sequence

	up        atomic.Bool
	lastProbe atomic.Int64 // unix ns of the last read that tried Redis while it was down
	metrics   metrics

	crashAfterCommit atomic.Bool // tests: skip the copy after a commit

	stop, done chan struct{}
	closeOnce  sync.Once
}

// New returns a tier over the Redis client rc (see NewClusterClient).
func New(rc redis.UniversalClient, log *slog.Logger) *Tier {
	if log == nil {
		log = slog.Default()
	}
	t := &Tier{rc: rc, log: log, outbox: map[string]pendingEntry{}, pending: map[subject]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	t.seq.Store(uint64(time.Now().UnixNano())) // #nosec G115 -- a time after 1970; unique across restarts
	t.up.Store(true)
	t.metrics = newMetrics(t)
	return t
}

// Wrap returns data wrapped so that every commit of rows writes an outbox
// entry and updates Redis: pass it to store.Options.WithDataWrapper.
func (t *Tier) Wrap(data kv.Store) kv.Store {
	t.inner = data
	return &outboxKV{Store: data, t: t}
}

// Attach binds the opened store, loads the outbox entries a previous run
// left (reads of their subjects go to the store until they are applied),
// applies them, and starts the drainer.
func (t *Tier) Attach(ctx context.Context, st *store.Store) error {
	if t.inner == nil {
		return errors.New("online: Attach before the store was opened with Wrap; pass Tier.Wrap to store.Options.WithDataWrapper")
	}
	t.st.Store(st)
	n, err := t.loadOutbox()
	if err != nil {
		return err
	}
	if n > 0 {
		t.log.Info("online tier: applying outbox entries left by the previous run", "entries", n)
		if left := t.Drain(ctx); left > 0 {
			t.log.Warn("online tier: Redis is unavailable; entries stay in the outbox and their reads go to the store", "entries", left)
		}
	}
	go t.drainer(DrainInterval) // #nosec G118 -- the drainer outlives Attach's context by design; Close stops it
	return nil
}

// Close stops the drainer and closes the Redis client. Pending entries
// stay in the outbox for the next start.
func (t *Tier) Close() error {
	var err error
	t.closeOnce.Do(func() {
		close(t.stop)
		if t.st.Load() != nil {
			<-t.done
		}
		err = t.rc.Close()
	})
	return err
}

// GetOnline answers store.GetOnline's read through Redis: each subject's
// latest row comes from Redis when Redis has it and no outbox entry is
// pending for it, else from the store (and a miss is copied into Redis).
// Redis failing makes the read go to the store: slower, never wrong.
func (t *Tier) GetOnline(ctx context.Context, view string, entityKeys, features []string) (*store.OnlineResult, error) {
	return t.getOnline(ctx, view, entityKeys, features, nil)
}

// readStats counts what one read got from Redis (tests).
type readStats struct{ hits, redisErrors int }

func (t *Tier) getOnline(ctx context.Context, view string, entityKeys, features []string, stats *readStats) (*store.OnlineResult, error) {
	if stats == nil {
		stats = &readStats{}
	}
	st := t.st.Load()
	v, bis, err := st.SubjectIndexes(view, entityKeys)
	if err != nil {
		return nil, err
	}
	rows := make([]store.TierRow, len(bis))
	fromRedis := make([]bool, len(bis))
	cmds := make([]*redis.StringCmd, len(bis))
	pipe := t.rc.Pipeline()
	queued := 0
	skip := !t.shouldTryRedis()
	for i, bi := range bis {
		if skip {
			t.metrics.bypass.Inc()
			continue // Redis is down: read the store without waiting for timeouts
		}
		if t.isPending(v.ID, bi) {
			t.metrics.bypass.Inc()
			continue
		}
		cmds[i] = pipe.Get(ctx, redisKey(v.ID, bi))
		queued++
	}
	if queued > 0 {
		_, err := pipe.Exec(ctx)
		if err != nil && !errors.Is(err, redis.Nil) {
			t.redisFailed("read", err)
			stats.redisErrors++
		} else {
			t.redisOK()
		}
	}
	var miss []int
	for i, c := range cmds {
		if c == nil {
			miss = append(miss, i)
			continue
		}
		b, err := c.Bytes()
		if err != nil {
			if !errors.Is(err, redis.Nil) {
				stats.redisErrors++ // counted, and the client told, with the pipeline's error
			} else {
				t.metrics.miss.Inc()
			}
			miss = append(miss, i)
			continue
		}
		r, err := decodeValue(b)
		if err != nil {
			t.metrics.corrupt.Inc()
			miss = append(miss, i)
			continue
		}
		rows[i], fromRedis[i] = r, true
		t.metrics.hit.Inc()
		stats.hits++
	}
	if len(miss) > 0 {
		if err := t.readMisses(ctx, &v, bis, rows, miss); err != nil {
			return nil, err
		}
	}
	res, err := st.DecryptLatest(ctx, view, entityKeys, bis, rows, features)
	if err != nil && errors.Is(err, store.ErrCorrupt) && anyTrue(fromRedis) {
		// A copy in Redis failed authentication (altered, or left from
		// before a key change): answer from the store, which is the truth.
		t.metrics.corrupt.Inc()
		t.log.Warn("online tier: a row copied in Redis failed authentication; answering from the store", "view", view)
		all := make([]int, len(bis))
		for i := range all {
			all[i] = i
		}
		if err := t.readMisses(ctx, &v, bis, rows, all); err != nil {
			return nil, err
		}
		return st.DecryptLatest(ctx, view, entityKeys, bis, rows, features)
	}
	return res, err
}

// readMisses reads rows[i] for i in idx from the store and copies what it
// found into Redis, unless a commit happened meanwhile (its own copy is
// newer or equal).
func (t *Tier) readMisses(ctx context.Context, v *store.View, bis []keys.BlindIndex, rows []store.TierRow, idx []int) error {
	gen := t.gen.Load()
	sub := make([]keys.BlindIndex, len(idx))
	for j, i := range idx {
		sub[j] = bis[i]
	}
	got, err := store.LatestRows(t.inner, v.ID, sub)
	if err != nil {
		return err
	}
	for j, i := range idx {
		rows[i] = got[j]
	}
	if !t.up.Load() || t.gen.Load() != gen {
		return nil
	}
	pipe := t.rc.Pipeline()
	n := 0
	now := time.Now()
	for j, r := range got {
		if r.Value == nil || t.isPending(v.ID, sub[j]) {
			continue // nothing to copy, or the outbox will copy it
		}
		if px, ok := expiry(v, r, now); ok {
			setIfNewer.Eval(ctx, pipe, []string{redisKey(v.ID, sub[j])}, encodeValue(r), px, "0")
			n++
		}
	}
	if n > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			t.metrics.errFill.Inc()
		}
	}
	return nil
}

// expiry returns the PXAT argument for r in v ("0": no TTL), and false
// when the row has already expired (it must not be copied).
func expiry(v *store.View, r store.TierRow, now time.Time) (string, bool) {
	if v.TTL <= 0 {
		return "0", true
	}
	at := time.Unix(0, r.EventNanos).Add(v.TTL)
	if !at.After(now) {
		return "", false
	}
	return itoa(at.UnixMilli() + 1), true
}

// sync copies the store's latest row of each subject to Redis (or deletes
// the Redis key where the store has none, or the row has expired).
func (t *Tier) sync(ctx context.Context, subs []subject) error {
	st := t.st.Load()
	if st == nil {
		return errors.New("online: the tier is not attached to a store yet")
	}
	byView := map[uint32][]keys.BlindIndex{}
	for _, s := range subs {
		byView[s.viewID] = append(byView[s.viewID], s.bi)
	}
	pipe := t.rc.Pipeline()
	now := time.Now()
	for vid, bis := range byView {
		rows, err := store.LatestRows(t.inner, vid, bis)
		if err != nil {
			return err
		}
		v, ok := st.ViewByID(vid)
		for i, r := range rows {
			key := redisKey(vid, bis[i])
			px, live := "0", true
			if ok {
				px, live = expiry(&v, r, now)
			}
			if r.Value == nil || !live {
				pipe.Del(ctx, key)
				continue
			}
			setIfNewer.Eval(ctx, pipe, []string{key}, encodeValue(r), px, "1")
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// EraseSubjects deletes the Redis keys of the subjects in every view of
// entity. An erasure calls it before it is acknowledged; it fails when
// Redis does (the destroyed subject key already makes any copy left in
// Redis unreadable; running the erasure again deletes it).
func (t *Tier) EraseSubjects(ctx context.Context, entity string, bis []keys.BlindIndex) error {
	st := t.st.Load()
	pipe := t.rc.Pipeline()
	n := 0
	for _, v := range st.Views() {
		if v.Entity != entity {
			continue
		}
		for _, bi := range bis {
			pipe.Del(ctx, redisKey(v.ID, bi))
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.metrics.errErase.Inc()
		t.redisFailed("erase", err)
		return errors.Join(ErrEraseIncomplete, err)
	}
	return nil
}

// ErrEraseIncomplete is returned by EraseSubjects when Redis could not
// delete a subject's keys.
var ErrEraseIncomplete = errors.New("online: the subjects are erased in the store and their keys destroyed, so their copies in Redis are unreadable, but Redis did not delete them; run the erasure again when Redis is reachable")

// redisFailed records a Redis failure: a metric always, a log line when the
// tier goes from up to down (the error names no key and no value).
func (t *Tier) redisFailed(op string, err error) {
	// A failed node may have been replaced by its replica: ask the cluster
	// for its slot map again (go-redis rate-limits this to one reload at a
	// time) rather than wait for the client's periodic refresh.
	if rc, ok := t.rc.(interface{ ReloadState(context.Context) }); ok {
		rc.ReloadState(context.Background())
	}
	switch op {
	case "read":
		t.metrics.errRead.Inc()
	case "write":
		t.metrics.errWrite.Inc()
	}
	if t.up.Swap(false) {
		t.log.Warn("online tier: Redis is unavailable; reads go to the store and writes wait in the outbox", "op", op, "error", err)
	}
}

// shouldTryRedis is true while Redis is up, and for one read per
// ProbeInterval while it is down.
func (t *Tier) shouldTryRedis() bool {
	if t.up.Load() {
		return true
	}
	now := time.Now().UnixNano()
	last := t.lastProbe.Load()
	return now-last >= int64(ProbeInterval) && t.lastProbe.CompareAndSwap(last, now)
}

func (t *Tier) redisOK() {
	if !t.up.Swap(true) {
		t.log.Info("online tier: Redis is reachable again")
	}
}

func anyTrue(b []bool) bool {
	for _, x := range b {
		if x {
			return true
		}
	}
	return false
}
