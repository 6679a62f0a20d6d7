package store

import (
	"context"
	"errors"

	"github.com/featurevault/featurevault/kv"
)

// MaxRowsPerIngest bounds one Ingest call, which is one atomic commit. A
// commit is also bounded in bytes (see Ingest); wide rows reach that first.
const MaxRowsPerIngest = 50_000

// DefaultMaxRefusals is how many refused rows an Ingest reports in detail
// when IngestOptions.MaxRefusals is 0; the rest are only counted.
const DefaultMaxRefusals = 100

// IngestOptions configures Ingest.
type IngestOptions struct {
	// ValidateOnly checks every row and reports what would be refused,
	// writing nothing and creating no keys.
	ValidateOnly bool
	// MaxRefusals caps the refusals reported in detail (default
	// DefaultMaxRefusals); RefusedRows still counts them all.
	MaxRefusals int
	// FirstRow is added to row positions in refusals, so that a caller
	// feeding a long stream in batches reports positions in the stream.
	FirstRow int64
}

// Refusal says why one row was refused. It names the column, never the
// value or the entity key.
type Refusal struct {
	Row    int64  // position of the row (plus IngestOptions.FirstRow)
	Column string // the field, the join key, or "" for the event time
	Reason string // what is wrong and how to fix it
}

// IngestResult says what Ingest did. When RefusedRows > 0 nothing was
// written; Rows and Values then count what would have been written had the
// refused rows been left out.
type IngestResult struct {
	Rows        int
	Values      int
	RefusedRows int
	Refusals    []Refusal // the first MaxRefusals, in row order
}

// Ingest is the bulk form of Write for training data: it checks every row
// (types and the fields' Constraints, as Write does) rather than stopping
// at the first problem, so one call reports everything a file needs fixed,
// and it commits the rows atomically only when none is refused. A refused
// batch writes nothing and creates no subject keys.
//
// Beyond MaxRowsPerIngest, a batch is bounded by what the KV commits in one
// transaction (Badger: about 10 MB of encrypted rows, e.g. ~5,000 rows of 50
// float64 fields); a larger one fails with a KindInvalid error that asks
// for smaller batches and writes no rows (subject keys it created stay,
// unused, as with a failed Write).
//
// Encryption and atomicity are those of Write: each value under its
// subject's key with the associated data of aad.go, subject records written
// in the same commit as the rows that need them.
func (s *Store) Ingest(ctx context.Context, view string, rows []Row, o IngestOptions) (IngestResult, error) {
	v, ent, rules, err := s.lookupWrite(view)
	if err != nil {
		return IngestResult{}, err
	}
	if len(rows) > MaxRowsPerIngest {
		return IngestResult{}, errorf(KindInvalid, "batch of %d rows exceeds the limit of %d per batch; send smaller batches", len(rows), MaxRowsPerIngest)
	}
	if o.MaxRefusals <= 0 {
		o.MaxRefusals = DefaultMaxRefusals
	}
	now := s.opts.now()
	p := newRowPreparer(v, ent, rules, now)
	p.maxValueBytes = s.opts.maxValueBytes
	prepared := make([]preparedRow, len(rows))
	var res IngestResult
	for i := range rows {
		pr := p.prepare(&rows[i], &prepared[i])
		if pr == nil {
			res.Rows++
			res.Values += countValues(prepared[i].values)
			continue
		}
		res.RefusedRows++
		if len(res.Refusals) < o.MaxRefusals {
			res.Refusals = append(res.Refusals, Refusal{Row: o.FirstRow + int64(i), Column: pr.field, Reason: pr.msg})
		}
	}
	if res.RefusedRows > 0 || o.ValidateOnly || len(rows) == 0 {
		return res, ctx.Err()
	}
	wr, err := s.commitRows(ctx, v, ent, prepared, now)
	if errors.Is(err, kv.ErrTooLarge) {
		return IngestResult{}, errorf(KindInvalid, "batch of %d rows is too large to commit atomically; send fewer rows per batch (a batch holds about 10 MB of encrypted values)", len(rows))
	}
	if err != nil {
		return IngestResult{}, err
	}
	return IngestResult{Rows: wr.Rows, Values: wr.Values}, nil
}

func countValues(vals []any) int {
	n := 0
	for _, x := range vals {
		if x != nil {
			n++
		}
	}
	return n
}
