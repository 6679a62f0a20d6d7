// Package pgkv is a kv.Store on the PostgreSQL wire protocol: PostgreSQL,
// or an engine that speaks it and shards it across machines (CockroachDB,
// YugabyteDB).
//
// Each store is one table of (key BYTEA PRIMARY KEY, value BYTEA). Like the
// embedded Badger store it sees only what FeatureVault gives every store:
// ciphertext, blind indexes and registry metadata, never a feature value or
// a raw entity key. Several servers may open the same table at once: Apply
// is one transaction, Update is SELECT ... FOR UPDATE in a transaction, and
// reads page through the table by key (keyset pagination) so that no
// transaction stays open while a caller's callback runs.
//
// The SQL is kept to what CockroachDB and YugabyteDB also accept:
// CREATE TABLE IF NOT EXISTS, INSERT ... ON CONFLICT (key) DO UPDATE,
// SELECT ... FOR UPDATE, = ANY($1) and keyset range scans. Consistency
// caveat: a Scan or Seek that spans several pages is not one snapshot; a
// write committed between two pages is seen or not depending on its key.
package pgkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/featurevault/featurevault/kv"
)

// Store is a kv.Store in one PostgreSQL table. It is safe for concurrent
// use by many goroutines and by many processes.
type Store struct {
	pool    *pgxpool.Pool
	owned   bool // Close closes the pool
	table   string
	opts    Options
	closed  atomic.Bool
	queries queries
}

// Options configures Open. Start from DefaultOptions.
type Options struct {
	table     string
	timeout   time.Duration
	pageSize  int
	retries   int
	maxConns  int32
	noCreate  bool
	asyncCmt  bool
	connectTO time.Duration
}

// DefaultOptions returns options for the table named table: operations time
// out after 10 s, reads page 256 rows at a time.
func DefaultOptions(table string) Options {
	return Options{table: table, timeout: 10 * time.Second, pageSize: 256, retries: 10, connectTO: 5 * time.Second}
}

// WithTimeout bounds each operation (a Get, a page of a Scan, an Apply).
// Past it the operation fails with kv.ErrUnavailable and has no effect.
func (o Options) WithTimeout(d time.Duration) Options { o.timeout = d; return o }

// WithPageSize sets how many rows a Scan or Seek reads per query.
func (o Options) WithPageSize(n int) Options { o.pageSize = n; return o }

// WithMaxConns caps the connection pool (default: the URL's pool_max_conns,
// else 32).
func (o Options) WithMaxConns(n int32) Options { o.maxConns = n; return o }

// WithCreateTable sets whether Open creates the table when it is missing
// (default true).
func (o Options) WithCreateTable(b bool) Options { o.noCreate = !b; return o }

// WithSyncCommit sets whether a write returns only once the database has
// flushed it to its WAL on disk (default true). With false, each write
// transaction sets synchronous_commit off: it is still atomic and survives
// a crash of any server, but a crash of the database machine may lose the
// last fraction of a second of writes (PostgreSQL's wal_writer_delay,
// 200 ms by default, times three). The audit log uses it, as it uses
// unsynced writes on Badger (rpc.AuditSyncInterval). PostgreSQL and
// YugabyteDB only: on CockroachDB leave it true.
func (o Options) WithSyncCommit(b bool) Options { o.asyncCmt = !b; return o }

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects to the database at url (postgres://user@host:port/db?…) and
// returns the store in the options' table, creating it if needed. A
// search_path parameter in the URL chooses the schema.
func Open(ctx context.Context, rawURL string, o Options) (*Store, error) {
	if !tableName.MatchString(o.table) {
		return nil, fmt.Errorf("pgkv: table name %q: use lower-case letters, digits and underscores", o.table)
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("pgkv: parse the database URL (%s): %w", Redact(rawURL), err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = o.connectTO
	}
	switch {
	case o.maxConns > 0:
		cfg.MaxConns = o.maxConns
	case !strings.Contains(rawURL, "pool_max_conns"):
		// pgxpool's default (4 on a small machine) starves a busy server.
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgkv: connect to %s: %w", Redact(rawURL), err)
	}
	s, err := New(ctx, pool, o)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New returns the store in the options' table over an open pool, creating
// the table if needed. Close does not close the pool.
func New(ctx context.Context, pool *pgxpool.Pool, o Options) (*Store, error) {
	if !tableName.MatchString(o.table) {
		return nil, fmt.Errorf("pgkv: table name %q: use lower-case letters, digits and underscores", o.table)
	}
	s := &Store{pool: pool, table: o.table, opts: o, queries: newQueries(o.table)}
	if !o.noCreate {
		if err := s.createTable(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Pool returns the connection pool, for the parts of a server that
// coordinate through the same database (membership, advisory locks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.table }

// createTable creates the table; several servers starting at once may race
// on it, which PostgreSQL reports as a duplicate: that is success.
func (s *Store) createTable(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		_, err := s.pool.Exec(ctx, s.queries.create)
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "42P07") && attempt < 3 {
			continue
		}
		return fmt.Errorf("pgkv: create table %s: %w", s.table, classify(err))
	}
}

type queries struct {
	create, get, first, firstOpen, page, pageOpen, set, del, lock, insert, swap string
}

func newQueries(t string) queries {
	return queries{
		create:    "CREATE TABLE IF NOT EXISTS " + t + " (key BYTEA PRIMARY KEY, value BYTEA NOT NULL)",
		get:       "SELECT key, value FROM " + t + " WHERE key = ANY($1)",
		first:     "SELECT key, value FROM " + t + " WHERE key >= $1 AND key < $2 ORDER BY key LIMIT 1",
		firstOpen: "SELECT key, value FROM " + t + " WHERE key >= $1 ORDER BY key LIMIT 1",
		page:      "SELECT key, value FROM " + t + " WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3",
		pageOpen:  "SELECT key, value FROM " + t + " WHERE key >= $1 ORDER BY key LIMIT $2",
		set:       "INSERT INTO " + t + " (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		del:       "DELETE FROM " + t + " WHERE key = $1",
		lock:      "SELECT value FROM " + t + " WHERE key = $1 FOR UPDATE",
		insert:    "INSERT INTO " + t + " (key, value) VALUES ($1, $2)",
		// swap fails (division by zero) unless it moved the guard from $2 to $3.
		swap: "WITH moved AS (UPDATE " + t + " SET value = $3 WHERE key = $1 AND value = $2 RETURNING 1) SELECT 1 / count(*) FROM moved",
	}
}

// open returns kv.ErrClosed once Close has been called.
func (s *Store) open() error {
	if s.closed.Load() {
		return kv.ErrClosed
	}
	return nil
}

func (s *Store) ctx() (context.Context, context.CancelFunc, error) {
	if s.closed.Load() {
		return nil, nil, kv.ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.timeout)
	return ctx, cancel, nil
}

// Get implements kv.Store with one query.
func (s *Store) Get(keys [][]byte) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, s.open()
	}
	err := s.read(func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, s.queries.get, keys)
		if err != nil {
			return err
		}
		found := make(map[string][]byte, len(keys))
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			found[string(k)] = nonNil(v)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i, k := range keys {
			out[i] = found[string(k)]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// First implements kv.Store: one range query per prefix, sent together in
// one round trip.
func (s *Store) First(prefixes [][]byte) ([]kv.Entry, error) {
	out := make([]kv.Entry, len(prefixes))
	if len(prefixes) == 0 {
		return out, s.open()
	}
	err := s.read(func(ctx context.Context) error {
		var b pgx.Batch
		for _, p := range prefixes {
			if end := prefixEnd(p); end != nil {
				b.Queue(s.queries.first, nonNil(p), end)
			} else {
				b.Queue(s.queries.firstOpen, nonNil(p)) // nil would be SQL NULL
			}
		}
		res := s.pool.SendBatch(ctx, &b)
		for i := range prefixes {
			var k, v []byte
			err := res.QueryRow().Scan(&k, &v)
			if errors.Is(err, pgx.ErrNoRows) {
				out[i] = kv.Entry{}
				continue
			}
			if err != nil {
				_ = res.Close()
				return err
			}
			out[i] = kv.Entry{Key: k, Value: nonNil(v)}
		}
		return res.Close()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// page reads up to n entries with keys in [from, end) (end nil: no bound).
func (s *Store) page(from, end []byte, n int) ([]kv.Entry, error) {
	var out []kv.Entry
	err := s.read(func(ctx context.Context) error {
		var rows pgx.Rows
		var err error
		if end != nil {
			rows, err = s.pool.Query(ctx, s.queries.page, from, end, n)
		} else {
			rows, err = s.pool.Query(ctx, s.queries.pageOpen, from, n)
		}
		if err != nil {
			return err
		}
		out = make([]kv.Entry, 0, n)
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			out = append(out, kv.Entry{Key: k, Value: nonNil(v)})
		}
		return rows.Err()
	})
	return out, err
}

// Scan implements kv.Store, a page at a time.
func (s *Store) Scan(prefix []byte, fn func(kv.Entry) error) error {
	return s.Seek(prefix, nil, func(e kv.Entry) ([]byte, error) { return nil, fn(e) })
}

// Seek implements kv.Store, a page at a time: a skip beyond the page read
// starts a new page at the skip's key.
func (s *Store) Seek(prefix, start []byte, fn func(kv.Entry) ([]byte, error)) error {
	end := prefixEnd(prefix)
	from := nonNil(prefix)
	if bytes.Compare(start, prefix) > 0 {
		from = bytes.Clone(start)
	}
	n := s.opts.pageSize
	for {
		if end != nil && bytes.Compare(from, end) >= 0 {
			return nil
		}
		entries, err := s.page(from, end, n)
		if err != nil {
			return err
		}
		var jump []byte
		for _, e := range entries {
			next, err := fn(e)
			if errors.Is(err, kv.SkipAll) {
				return nil
			}
			if err != nil {
				return err
			}
			if next != nil {
				jump = bytes.Clone(next)
				break
			}
		}
		switch {
		case jump != nil:
			from = jump
			if bytes.Compare(from, prefix) < 0 {
				from = nonNil(prefix)
			}
		case len(entries) < n:
			return nil
		default:
			from = append(bytes.Clone(entries[len(entries)-1].Key), 0)
		}
	}
}

// Apply implements kv.Store with one transaction in one round trip:
// BEGIN, the statements and COMMIT are pipelined together.
func (s *Store) Apply(ops []kv.Op) error {
	if len(ops) == 0 {
		return s.open()
	}
	return s.retry(func(ctx context.Context) error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		b := s.txBatch(true)
		s.queueWrites(b, ops, nil)
		return commitBatch(ctx, conn, b)
	})
}

// queueWrites queues ops on b in order, each a set or a delete, except
// the ops on the key skip (when not nil), which the caller writes itself.
func (s *Store) queueWrites(b *pgx.Batch, ops []kv.Op, skip []byte) {
	for _, op := range ops {
		switch {
		case skip != nil && bytes.Equal(op.Key, skip):
		case op.Delete:
			b.Queue(s.queries.del, op.Key)
		default:
			b.Queue(s.queries.set, op.Key, nonNil(op.Value))
		}
	}
}

// Update implements kv.Updater with ApplyGuarded on the key itself.
func (s *Store) Update(key []byte, fn func(old []byte) ([]byte, error)) error {
	return s.ApplyGuarded(key, func(old []byte) ([]kv.Op, error) {
		nv, err := fn(old)
		if err != nil || (old != nil && bytes.Equal(nv, old)) {
			return nil, err
		}
		return []kv.Op{{Key: key, Value: nv}}, nil
	})
}

// ApplyGuarded implements kv.GuardedApplier: the guard's row is locked with
// SELECT ... FOR UPDATE, so guarded writers on any server run one after
// another. A guard that does not exist yet has no row to lock: fn must then
// set it, and that set is a plain INSERT, so of two first writers the
// second fails on the primary key, rolls back and runs fn again on the
// first one's value.
//
// It costs two round trips: BEGIN with the lock, then the writes with
// COMMIT.
func (s *Store) ApplyGuarded(guard []byte, fn func(cur []byte) ([]kv.Op, error)) error {
	err := s.retry(func(ctx context.Context) error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release() // a connection left in a transaction is closed, not reused
		lock := &pgx.Batch{}
		lock.Queue("BEGIN")
		lock.Queue(s.queries.lock, guard)
		br := conn.SendBatch(ctx, lock)
		var cur []byte
		_, err = br.Exec()
		if err == nil {
			err = br.QueryRow().Scan(&cur)
		}
		exists := true
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			exists, cur = false, nil
		case err != nil:
			_ = br.Close()
			return rollback(ctx, conn, err)
		default:
			cur = nonNil(cur)
		}
		if err := br.Close(); err != nil {
			return rollback(ctx, conn, err)
		}
		ops, err := fn(cur)
		if err != nil {
			return rollback(ctx, conn, callbackError{err})
		}
		if len(ops) == 0 {
			return rollback(ctx, conn, nil)
		}
		b := s.txBatch(false)
		inserted := exists
		for _, op := range ops {
			switch {
			case op.Delete:
				b.Queue(s.queries.del, op.Key)
			case !inserted && bytes.Equal(op.Key, guard):
				b.Queue(s.queries.insert, op.Key, nonNil(op.Value))
				inserted = true
			default:
				b.Queue(s.queries.set, op.Key, nonNil(op.Value))
			}
		}
		return commitBatch(ctx, conn, b)
	})
	if ce, ok := errors.AsType[callbackError](err); ok {
		return ce.err // the caller's own error, as it was
	}
	return err
}

// ApplyIf implements kv.Swapper in one round trip: BEGIN, a swap of the
// guard's value, the other writes and COMMIT, pipelined. The swap is an
// UPDATE of the guard's row where it holds want, whose count of updated
// rows divides one: when the guard moved there is no row, the division
// fails, and the database skips the rest of the pipeline and rolls it back.
// (CockroachDB and YugabyteDB document both the data-modifying WITH and
// the error; only PostgreSQL is tested: docs/deploy.md.)
func (s *Store) ApplyIf(guard, want []byte, ops []kv.Op) (bool, error) {
	next, err := kv.SwapGuard(guard, want, ops)
	if err != nil {
		return false, err
	}
	err = s.retry(func(ctx context.Context) error {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		b := s.txBatch(true)
		b.Queue(s.queries.swap, guard, want, next)
		s.queueWrites(b, ops, guard) // the swap sets the guard
		err = commitBatch(ctx, conn, b)
		if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == "22012" {
			return callbackError{errGuardMoved}
		}
		return err
	})
	if errors.Is(err, errGuardMoved) {
		return false, nil
	}
	return err == nil, err
}

// errGuardMoved: ApplyIf's guard did not hold the expected value.
var errGuardMoved = errors.New("pgkv: the guard moved")

// callbackError carries an error of the caller's callback through retry,
// which must neither retry it nor classify it.
type callbackError struct{ err error }

func (c callbackError) Error() string { return c.err.Error() }
func (c callbackError) Unwrap() error { return c.err }

// retry runs op in a fresh context, again on a serialization failure, a
// deadlock or a lost race to insert (all of which rolled back), up to the
// options' limit; and again, up to three times, on a connection that
// failed before the transaction's commit was sent (a pooled connection the
// database or the network dropped while it was idle).
func (s *Store) retry(op func(context.Context) error) error {
	lost := 0
	for attempt := 0; ; attempt++ {
		ctx, cancel, err := s.ctx()
		if err != nil {
			return err
		}
		err = op(ctx)
		cancel()
		if err == nil {
			return nil
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "23505") && attempt < s.opts.retries {
			time.Sleep(time.Duration(attempt+1) * time.Millisecond)
			continue
		}
		if !errors.Is(err, errCommitUnknown) && lostConnection(err) && lost < 3 {
			lost++
			continue
		}
		return classify(err)
	}
}

// txBatch starts the statements of a write transaction: BEGIN (when begin
// is set; else the caller has begun it), then SET LOCAL synchronous_commit
// TO OFF when the options ask for it.
func (s *Store) txBatch(begin bool) *pgx.Batch {
	b := &pgx.Batch{}
	if begin {
		b.Queue("BEGIN")
	}
	if s.opts.asyncCmt {
		b.Queue("SET LOCAL synchronous_commit TO OFF")
	}
	return b
}

// errCommitUnknown marks a commit whose outcome is unknown: it must not be
// retried blindly.
var errCommitUnknown = errors.New("pgkv: the connection failed while committing; the write may or may not have been committed")

// commitBatch appends COMMIT to b and sends it all in one round trip on
// conn. An error the database returned means nothing was committed (after
// an error the database skips the rest of the pipeline, COMMIT included,
// and the transaction is rolled back here). A connection that failed
// before anything was sent is a plain error, safe to retry; one that
// failed later is wrapped with errCommitUnknown.
func commitBatch(ctx context.Context, conn *pgxpool.Conn, b *pgx.Batch) error {
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	var err error
	for range b.Len() {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*pgconn.PgError](err); ok {
		return rollback(ctx, conn, err)
	}
	if pgconn.SafeToRetry(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errCommitUnknown, err)
}

// rollback ends the transaction open on conn and returns cause. If the
// ROLLBACK fails, the pool closes the connection on release (it is still
// in a transaction), which rolls it back as well.
func rollback(ctx context.Context, conn *pgxpool.Conn, cause error) error {
	_, _ = conn.Exec(ctx, "ROLLBACK")
	return cause
}

// lostConnection reports whether err is a failure of the connection (not
// an error the database returned, and not the operation's deadline).
func lostConnection(err error) bool {
	if _, ok := errors.AsType[callbackError](err); ok {
		return false
	}
	var pe *pgconn.PgError
	return !errors.As(err, &pe) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// read runs a read query, again (up to three times) on a lost connection.
func (s *Store) read(fn func(ctx context.Context) error) error {
	for lost := 0; ; lost++ {
		ctx, cancel, err := s.ctx()
		if err != nil {
			return err
		}
		err = fn(ctx)
		cancel()
		if err == nil || !lostConnection(err) || lost == 3 {
			return classify(err)
		}
	}
}

// Close implements kv.Store. It closes the pool if Open made it.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return kv.ErrClosed
	}
	return classify(s.pool.Ping(ctx))
}

// classify wraps err with kv.ErrUnavailable when it says the database could
// not be reached or gave up for a reason that may pass, and with a pgkv
// prefix otherwise. The database's message is kept: it never holds a value,
// because every value crosses as a bind parameter.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[callbackError](err); ok {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) >= 2 && (pe.Code[:2] == "08" || pe.Code[:2] == "53" || pe.Code[:2] == "57" || pe.Code[:2] == "40"):
			return fmt.Errorf("%w: %s (SQLSTATE %s)", kv.ErrUnavailable, pe.Message, pe.Code)
		}
		return fmt.Errorf("pgkv: %s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	if errors.Is(err, kv.ErrClosed) {
		return err
	}
	// Everything else is the connection: refused, reset, timed out.
	return fmt.Errorf("%w: %v", kv.ErrUnavailable, err)
}

// prefixEnd returns the smallest key greater than every key starting with
// p, or nil when there is none (p empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Redact returns the URL with its password replaced, for messages and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable database URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
