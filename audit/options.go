package audit

import "time"

// Options configures Open. Start from DefaultOptions and chain WithX calls;
// each returns a modified copy.
type Options struct {
	now      func() time.Time
	readOnly bool
	maxBatch int
	shared   bool
}

// DefaultOptions returns options for a writable log on the wall clock that
// commits up to 256 concurrent appends together.
func DefaultOptions() Options {
	return Options{now: time.Now, maxBatch: 256}
}

// WithClock sets the clock Append stamps records with (tests, replays).
func (o Options) WithClock(now func() time.Time) Options { o.now = now; return o }

// WithReadOnly opens the log for reading and verifying only: Open then
// succeeds on a damaged log (so that Verify can locate the damage), and
// Append returns ErrReadOnly. Use it for `featurevault audit` commands.
func (o Options) WithReadOnly(b bool) Options { o.readOnly = b; return o }

// WithMaxBatch bounds how many concurrent appends one commit carries
// (n >= 1; 1 commits every record on its own). See Log.Append.
func (o Options) WithMaxBatch(n int) Options { o.maxBatch = n; return o }

// WithShared makes the log safe to append to from several servers on one
// shared store (one that implements kv.GuardedApplier, as the PostgreSQL
// store does): every commit reads the head from the store under the head
// key's lock and writes its records and the new head in that same
// transaction, so the servers' records form one chain in commit order. It
// costs a locked read per commit (a group of concurrent appends shares it).
func (o Options) WithShared(b bool) Options { o.shared = b; return o }
