package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/featurevault/featurevault/kv"
)

// MaxRange is the most records Range and Tail return in one call.
const MaxRange = 10_000

// Range returns up to limit records from sequence number from onwards, up to
// the head, in order (at most MaxRange). Records are returned as stored,
// without checking their MACs: run Verify before trusting them. A record
// missing from the log is skipped; one that does not decode is an error
// wrapping ErrMalformed.
func (l *Log) Range(ctx context.Context, from uint64, limit int) ([]Record, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: limit must be positive", ErrInvalidArgument)
	}
	head, err := l.Head(ctx)
	if err != nil {
		return nil, err
	}
	from = max(from, 1)
	if from > head.Seq {
		return nil, nil
	}
	n := min(uint64(min(limit, MaxRange)), head.Seq-from+1)
	ks := make([][]byte, n)
	for i := range ks {
		ks[i] = recordKey(from + uint64(i))
	}
	vs, err := l.store.Get(ks)
	if err != nil {
		return nil, fmt.Errorf("audit: read records %d..%d: %w", from, from+n-1, err)
	}
	out := make([]Record, 0, n)
	for i, v := range vs {
		if v == nil {
			continue
		}
		rec, _, err := decodeStored(v)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d; run verify", ErrMalformed, from+uint64(i))
		}
		out = append(out, rec)
	}
	return out, nil
}

// Tail returns the last n records up to the head, oldest first (at most
// MaxRange), as Range does.
func (l *Log) Tail(ctx context.Context, n int) ([]Record, error) {
	if n <= 0 {
		return nil, fmt.Errorf("%w: n must be positive", ErrInvalidArgument)
	}
	head, err := l.Head(ctx)
	if err != nil {
		return nil, err
	}
	n = min(n, MaxRange)
	from := uint64(1)
	if head.Seq > uint64(n) {
		from = head.Seq - uint64(n) + 1
	}
	return l.Range(ctx, from, n)
}

// Export writes every stored record to w as JSON lines, one Record per line
// in sequence order, with hashes in hex: the format of `featurevault audit
// export`. It reads one snapshot and writes what is stored, without
// checking MACs (run Verify for that); a record that does not decode stops
// the export with ErrMalformed.
//
// The JSON is faithful: decoding a line and re-encoding it canonically gives
// back the bytes the Hash was computed over, so an exported archive can be
// re-verified later by a holder of the MAC key.
func (l *Log) Export(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int
	err := l.store.Scan(prefix, func(e kv.Entry) error {
		seq, ok := parseRecordKey(e.Key)
		if !ok {
			return nil // the head, or a stray key Verify reports
		}
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, _, err := decodeStored(e.Value)
		if err != nil {
			return fmt.Errorf("%w: record %d; run verify", ErrMalformed, seq)
		}
		return enc.Encode(rec)
	})
	if err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	return nil
}
