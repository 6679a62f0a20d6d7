package store

import (
	"context"
	"time"
)

// ColumnValues streams one column of view over event times [start, end) (a
// zero bound is open) for an aggregate: emit is called for every row whose
// value is not NULL, with the row's subject (its blind index, never the raw
// key) and the value as a float64 (int64 and float64 fields as themselves,
// bool as 0 or 1; other types as 0, for counting). Rows come grouped by
// subject, newest first within a subject, and rows of erased subjects are
// left out. It decrypts only that column, never the raw entity keys.
func (s *Store) ColumnValues(ctx context.Context, view, field string, start, end time.Time, emit func(subject []byte, value float64) error) error {
	sc, err := s.Scan(ctx, view, ScanOptions{Features: []string{field}, Start: start, End: end, SkipEntityKeys: true})
	if err != nil {
		return err
	}
	defer sc.Close()
	t := sc.Fields()[0].Type
	for sc.Next() {
		b := sc.Batch()
		for i := range b.Len() {
			if b.IsNull(i, 0) {
				continue
			}
			var x float64
			switch t {
			case Int64:
				x = float64(b.Int64(i, 0))
			case Float64:
				x = b.Float64(i, 0)
			case Bool:
				if b.Bool(i, 0) {
					x = 1
				}
			}
			subject := b.Subject(i)
			if err := emit(subject[:], x); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
