package arrowio

import (
	"cmp"
	"context"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/featurevault/featurevault/store"
)

// IngestBatch decodes rec with d and ingests its rows into view as one
// atomic batch (see store.Store.Ingest). Rows the decoder cannot convert
// and rows the store refuses are reported together, in row order, at
// positions counted from first; when any row is refused nothing of the
// batch is written, but every row is still checked, so one call reports
// everything the batch needs fixed.
func IngestBatch(ctx context.Context, s *store.Store, view string, d *Decoder, rec arrow.RecordBatch, first int64, o store.IngestOptions) (store.IngestResult, error) {
	rows, kept, refused := d.Decode(rec, first, nil)
	so := o
	so.FirstRow = 0
	so.ValidateOnly = o.ValidateOnly || len(refused) > 0
	res, err := s.Ingest(ctx, view, rows, so)
	if err != nil {
		return store.IngestResult{}, err
	}
	if len(refused) == 0 && res.RefusedRows == 0 {
		return res, nil
	}
	for i := range res.Refusals {
		res.Refusals[i].Row = first + int64(kept[res.Refusals[i].Row])
	}
	res.RefusedRows += len(refused)
	all := append(refused, res.Refusals...)
	slices.SortStableFunc(all, func(a, b store.Refusal) int { return cmp.Compare(a.Row, b.Row) })
	limit := o.MaxRefusals
	if limit <= 0 {
		limit = store.DefaultMaxRefusals
	}
	res.Refusals = all[:min(len(all), limit)]
	return res, nil
}
