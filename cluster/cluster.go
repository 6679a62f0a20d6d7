// Package cluster keeps the caches of several FeatureVault servers that
// share one PostgreSQL-protocol store consistent with each other.
//
// Every server is a Member: it holds a lease in a membership table, renewed
// every Poll, and a version it has reloaded its caches at. A server that
// changes something other servers cache (an erasure, a revocation, a
// policy or role change, a new view, a key rotation) calls Invalidate after
// the change is committed and before it acknowledges it: Invalidate bumps
// the cluster version, wakes every member (NOTIFY, where the engine has it;
// members also poll), and waits until every member whose lease is live has
// reloaded at the new version. A member renews its lease only in the same
// transaction that confirms it is at the current version, and stops serving
// (Serving reports false) the moment its lease may have lapsed. So once
// Invalidate returns, every server that can still answer a request answers
// it with the change in force.
//
// The worst case: a member that stops renewing (killed, partitioned from
// the database, stuck reloading) delays every Invalidate by up to one
// lease; it is then out of the membership, and refuses requests until it
// has reloaded and renewed. A change whose Invalidate never ran (the acting
// server died between the commit and the bump, so the change was never
// acknowledged) is picked up by every member's periodic full reload
// (Options.WithReloadEvery) at the latest.
//
// The SQL is plain enough for CockroachDB and YugabyteDB, except LISTEN,
// NOTIFY and advisory locks, which PostgreSQL and YugabyteDB have and
// CockroachDB does not: there members fall back to polling, and Lock to a
// lock row with a lease (not implemented yet; see docs/deploy.md).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotServing is returned by Check while the member's lease may have
// lapsed: its caches may be stale, so it must not answer requests.
var ErrNotServing = errors.New("cluster: this server lost its membership lease in the shared store (database unreachable, or too slow to reload); it refuses requests until it has reloaded; retry, or use another server")

// ErrNotConfirmed is returned by Invalidate when live members did not
// confirm the new version in time (more than two leases).
var ErrNotConfirmed = errors.New("cluster: the change is committed but not every server confirmed it in time; servers that did not confirm stop serving when their lease lapses")

// ErrBusy is returned by Lock when another server holds the lock.
var ErrBusy = errors.New("cluster: another server runs this operation now; retry when it has finished")

// Options configures Join. Start from DefaultOptions.
type Options struct {
	id          string
	lease       time.Duration
	poll        time.Duration
	reloadEvery time.Duration
	reload      func(context.Context) error
	log         *slog.Logger
}

// DefaultOptions returns options for the member named id (unique among the
// servers: e.g. host and port): a 5 s lease, polled every second (NOTIFY
// wakes members at once), a full reload every minute.
func DefaultOptions(id string) Options {
	return Options{id: id, lease: 5 * time.Second, poll: time.Second, reloadEvery: time.Minute, log: slog.Default()}
}

// WithLease sets the lease: how long a member that stopped renewing may
// delay an Invalidate, and how long it may serve after losing the database.
func (o Options) WithLease(d time.Duration) Options { o.lease = d; return o }

// WithPoll sets how often a member renews its lease and checks the version
// (at most a third of the lease).
func (o Options) WithPoll(d time.Duration) Options { o.poll = d; return o }

// WithReloadEvery sets the period of the full reload that bounds the life
// of a change that was committed but never acknowledged (0: never).
func (o Options) WithReloadEvery(d time.Duration) Options { o.reloadEvery = d; return o }

// WithReload sets what a member does to drop its caches and re-read the
// shared state. It must be safe to call concurrently with requests.
func (o Options) WithReload(fn func(context.Context) error) Options { o.reload = fn; return o }

// WithLogger sets the logger.
func (o Options) WithLogger(l *slog.Logger) Options { o.log = l; return o }

// Member is one server's membership.
type Member struct {
	pool *pgxpool.Pool
	opts Options

	validUntil atomic.Pointer[time.Time] // serving before this instant (monotonic clock)
	seen       atomic.Int64              // version the caches were reloaded at
	live       atomic.Int64              // servers with a live lease at the last renewal
	lastReload time.Time                 // owned by the loop
	wake       chan struct{}
	stop       context.CancelFunc
	done       sync.WaitGroup
	reloadMu   sync.Mutex
}

const (
	membersTable = "fv_cluster_members"
	epochTable   = "fv_cluster_epoch"
	channel      = "fv_cluster"
)

// Join creates the membership tables if needed, registers the member at
// the current version (the caller has just loaded its caches) and starts
// renewing its lease. Close leaves.
func Join(ctx context.Context, pool *pgxpool.Pool, o Options) (*Member, error) {
	if o.id == "" {
		return nil, errors.New("cluster: empty member id")
	}
	if o.lease < 100*time.Millisecond || o.poll <= 0 || o.poll*3 > o.lease {
		return nil, fmt.Errorf("cluster: lease %s and poll %s: the lease must be at least 100ms and at least three polls", o.lease, o.poll)
	}
	if o.reload == nil {
		return nil, errors.New("cluster: no reload function; pass one with WithReload")
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS " + membersTable + " (id TEXT PRIMARY KEY, seen BIGINT NOT NULL, lease_until TIMESTAMPTZ NOT NULL)",
		"CREATE TABLE IF NOT EXISTS " + epochTable + " (id INT PRIMARY KEY, version BIGINT NOT NULL)",
		"INSERT INTO " + epochTable + " (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
	} {
		if err := execRetry(ctx, pool, q); err != nil {
			return nil, fmt.Errorf("cluster: create membership tables: %w", err)
		}
	}
	m := &Member{pool: pool, opts: o, wake: make(chan struct{}, 1), lastReload: time.Now()}
	var v int64
	if err := pool.QueryRow(ctx, "SELECT version FROM "+epochTable+" WHERE id = 1").Scan(&v); err != nil {
		return nil, fmt.Errorf("cluster: read version: %w", err)
	}
	// The caller's caches were loaded before v was read: a change
	// acknowledged in between would be missed, so load them again at v.
	if err := m.reloadAt(ctx, v); err != nil {
		return nil, err
	}
	if err := m.renew(ctx); err != nil {
		return nil, err
	}
	// Members that died without leaving (killed) are forgotten after a
	// day; only live leases count anyway.
	_, _ = pool.Exec(ctx, "DELETE FROM "+membersTable+" WHERE lease_until < now() - INTERVAL '1 day'")
	lctx, stop := context.WithCancel(context.Background())
	m.stop = stop
	m.done.Add(2)
	go m.loop(lctx)
	go m.listen(lctx)
	return m, nil
}

func execRetry(ctx context.Context, pool *pgxpool.Pool, q string) error {
	var err error
	for range 3 {
		if _, err = pool.Exec(ctx, q); err == nil {
			return nil
		}
	}
	return err
}

// ID returns the member's id.
func (m *Member) ID() string { return m.opts.id }

// Check returns nil while the member's lease is live, else ErrNotServing.
func (m *Member) Check() error {
	if u := m.validUntil.Load(); u != nil && time.Now().Before(*u) {
		return nil
	}
	return ErrNotServing
}

// renew confirms the member is at the current version and extends its
// lease, in one transaction that holds the version row in share mode, so
// that no Invalidate can bump the version between the check and the
// renewal. When the version moved, it reloads first (and tries again).
func (m *Member) renew(ctx context.Context) error {
	for attempt := 0; attempt < 5; attempt++ {
		start := time.Now()
		var cur, live int64
		stale := false
		err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, "SELECT version FROM "+epochTable+" WHERE id = 1 FOR SHARE").Scan(&cur); err != nil {
				return err
			}
			if cur != m.seen.Load() {
				stale = true
				return nil
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+membersTable+" (id, seen, lease_until) VALUES ($1, $2, now() + $3 * INTERVAL '1 second') "+
				"ON CONFLICT (id) DO UPDATE SET seen = excluded.seen, lease_until = excluded.lease_until",
				m.opts.id, cur, m.opts.lease.Seconds()); err != nil {
				return err
			}
			return tx.QueryRow(ctx, "SELECT count(*) FROM "+membersTable+" WHERE lease_until > now()").Scan(&live)
		})
		if err != nil {
			return fmt.Errorf("cluster: renew lease: %w", err)
		}
		if !stale {
			// 1% under the lease for clock-rate drift between this machine
			// and the database's.
			until := start.Add(m.opts.lease - m.opts.lease/100)
			m.validUntil.Store(&until)
			m.live.Store(max(live, 1))
			return nil
		}
		if err := m.reloadAt(ctx, cur); err != nil {
			return err
		}
	}
	return errors.New("cluster: the version kept moving while reloading; renewing at the next poll")
}

// reloadAt reloads the caches and records that they reflect version v.
func (m *Member) reloadAt(ctx context.Context, v int64) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if err := m.opts.reload(ctx); err != nil {
		return fmt.Errorf("cluster: reload: %w", err)
	}
	m.seen.Store(v)
	m.lastReload = time.Now()
	return nil
}

// loop renews the lease every poll or when woken, and reloads everything
// every reloadEvery.
func (m *Member) loop(ctx context.Context) {
	defer m.done.Done()
	t := time.NewTicker(m.opts.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.wake:
		}
		rctx, cancel := context.WithTimeout(ctx, m.opts.lease)
		if m.opts.reloadEvery > 0 && time.Since(m.lastReload) > m.opts.reloadEvery {
			if err := m.reloadAt(rctx, m.seen.Load()); err != nil {
				m.opts.log.Warn("periodic reload failed", "error", err)
			}
		}
		if err := m.renew(rctx); err != nil && ctx.Err() == nil {
			m.opts.log.Warn("cluster lease not renewed; this server stops serving when it lapses", "error", err)
		}
		cancel()
	}
}

// listen wakes the loop on NOTIFY, reconnecting as needed. On an engine
// without LISTEN it gives up and the loop's polling remains.
func (m *Member) listen(ctx context.Context) {
	defer m.done.Done()
	for ctx.Err() == nil {
		err := m.listenOnce(ctx)
		if errors.Is(err, errNoListen) {
			m.opts.log.Info("the store has no LISTEN/NOTIFY; servers learn of changes by polling", "poll", m.opts.poll)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(m.opts.poll):
		}
	}
}

var errNoListen = errors.New("cluster: LISTEN unsupported")

func (m *Member) listenOnce(ctx context.Context) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		if conn.Conn().PgConn().IsClosed() {
			return err
		}
		return errNoListen
	}
	defer func() {
		// Leave the connection clean for the pool, or drop it.
		uctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "UNLISTEN *"); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()
	m.poke() // a change may have been missed while not listening
	for {
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
		m.poke()
	}
}

func (m *Member) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Invalidate tells every member that shared state changed, and returns once
// every member with a live lease has reloaded its caches (this one
// included). Call it after the change is committed, before acknowledging
// it. It waits at most about one lease for a member that stopped
// renewing; past two leases it returns ErrNotConfirmed.
func (m *Member) Invalidate(ctx context.Context) error {
	var v int64
	if err := m.pool.QueryRow(ctx, "UPDATE "+epochTable+" SET version = version + 1 WHERE id = 1 RETURNING version").Scan(&v); err != nil {
		return fmt.Errorf("cluster: bump version: %w", err)
	}
	// PostgreSQL and YugabyteDB only; elsewhere members poll.
	_, _ = m.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, fmt.Sprint(v))
	m.poke()
	deadline := time.Now().Add(2 * m.opts.lease)
	wait := 2 * time.Millisecond
	for {
		var behind int
		err := m.pool.QueryRow(ctx, "SELECT count(*) FROM "+membersTable+" WHERE seen < $1 AND lease_until > now()", v).Scan(&behind)
		if err != nil {
			return fmt.Errorf("cluster: read membership: %w", err)
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrNotConfirmed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Members returns how many servers held a live lease when this one last
// renewed its own (itself included, so at least 1). It is read on every
// request (a server's share of a fleet-wide rate limit) and costs no
// query; it lags a server joining or dying by at most one poll, and a
// killed server counts until its lease lapses.
func (m *Member) Members() int { return int(max(m.live.Load(), 1)) }

// Live returns how many members hold a live lease.
func (m *Member) Live(ctx context.Context) (int, error) {
	var n int
	err := m.pool.QueryRow(ctx, "SELECT count(*) FROM "+membersTable+" WHERE lease_until > now()").Scan(&n)
	return n, err
}

// Lock takes the cluster-wide lock called name for one operation (such as
// a key rotation) and returns its release, or ErrBusy while another server
// holds it. The lock is a PostgreSQL session advisory lock on a connection
// held until release: if this server dies, the database drops the
// connection and the lock with it, and another server can take over.
func (m *Member) Lock(ctx context.Context, name string) (release func(), err error) {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: lock %s: %w", name, err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("featurevault/" + name))
	id := int64(h.Sum64()) // #nosec G115 -- a lock id: the bits matter, not the sign
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("cluster: lock %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, ErrBusy
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", id); err != nil {
			_ = conn.Conn().Close(uctx) // closing the session releases it
		}
		conn.Release()
	}, nil
}

// Close stops renewing and leaves the membership, so that no Invalidate
// waits for this member.
func (m *Member) Close() error {
	m.stop()
	m.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := m.pool.Exec(ctx, "DELETE FROM "+membersTable+" WHERE id = $1", m.opts.id)
	return err
}
