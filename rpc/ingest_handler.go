package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/arrowio"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// DefaultMaxIngestBatchBytes is the default bound on the body of one Arrow
// record batch a client sends (IngestArrow, GetHistoricalFeatures' entity
// rows); a batch that large would not commit atomically anyway.
const DefaultMaxIngestBatchBytes = 64 << 20

// maxReportedRefusals is how many refused rows an ingest reports in detail.
const maxReportedRefusals = store.DefaultMaxRefusals

// IngestArrow writes an Arrow IPC client stream to a view, one atomic
// commit per record batch. The table's schema is checked against the view
// before anything is written; every row of every batch is checked; after
// the first batch with a refused row nothing more is written, but checking
// goes on to the end so that one call reports everything to fix.
func (h *arrowHandler) IngestArrow(ctx context.Context, stream *connect.ClientStream[fvv1.IngestArrowRequest]) (*connect.Response[fvv1.IngestArrowResponse], error) {
	a := access{Procedure: stream.Spec().Procedure, Action: actionWrite}
	res, err := h.ingestArrow(ctx, stream, &a)
	a.Err = err
	if err := h.record(ctx, stream.RequestHeader(), a); err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

func (h *arrowHandler) ingestArrow(ctx context.Context, stream *connect.ClientStream[fvv1.IngestArrowRequest], a *access) (*fvv1.IngestArrowResponse, error) {
	proc := stream.Spec().Procedure
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, err
		}
		return nil, invalid(errors.New("the stream is empty; send the view name and an Arrow IPC stream"))
	}
	first := stream.Msg()
	view, validateOnly := first.View, first.ValidateOnly
	a.View = view
	v, err := h.store.View(view)
	if err != nil {
		return nil, toConnect(h.log, proc, err)
	}
	e, err := h.store.Entity(v.Entity)
	if err != nil {
		return nil, toConnect(h.log, proc, err)
	}
	pending := first.ArrowIpc
	chunks := arrowio.NewChunkReader(func() ([]byte, error) {
		if pending != nil {
			b := pending
			pending = nil
			return b, nil
		}
		if !stream.Receive() {
			if err := stream.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		if m := stream.Msg(); m.View != "" && m.View != view {
			return nil, fmt.Errorf("a later message names view %q, the first %q; name the view in the first message only", m.View, view)
		}
		return stream.Msg().ArrowIpc, nil
	})
	rd, err := arrowio.NewStreamReader(chunks, arrowMem, h.maxBatchBytes)
	if err != nil {
		return nil, streamError(err, "the stream does not start with an Arrow IPC schema")
	}
	defer rd.Release()
	dec, err := arrowio.NewDecoder(rd.Schema(), v, e)
	if err != nil {
		var se *arrowio.SchemaError
		if errors.As(err, &se) {
			return nil, invalid(fmt.Errorf("nothing was written: the Arrow schema does not fit view %q:\n  - %s", view, strings.Join(se.Problems, "\n  - ")))
		}
		return nil, invalid(err)
	}
	if a.Allowed, a.Denied, err = h.columns(ctx, stream.RequestHeader(), view, actionWrite, dec.Fields()); err != nil {
		return nil, err
	}
	if len(a.Denied) > 0 {
		return nil, permissionDenied("nothing was written: policy does not let you write fields %s of view %q; drop those columns or ask an admin", strings.Join(a.Denied, ", "), view)
	}
	res := &fvv1.IngestArrowResponse{}
	for rd.Next() {
		rec := rd.RecordBatch()
		o := store.IngestOptions{ValidateOnly: validateOnly || res.RowsRefused > 0, MaxRefusals: maxReportedRefusals}
		r, err := arrowio.IngestBatch(ctx, h.store, view, dec, rec, res.RowsChecked, o)
		if err != nil {
			return nil, partial(toConnect(h.log, proc, err), res)
		}
		res.RowsChecked += rec.NumRows()
		if r.RefusedRows > 0 {
			res.RowsRefused += int64(r.RefusedRows)
			for _, rf := range r.Refusals {
				if len(res.Refusals) < maxReportedRefusals {
					res.Refusals = append(res.Refusals, &fvv1.RowRefusal{Row: rf.Row, Column: rf.Column, Reason: rf.Reason})
				}
			}
			continue
		}
		if !o.ValidateOnly && rec.NumRows() > 0 {
			res.RowsWritten += int64(r.Rows)
			res.ValuesWritten += int64(r.Values)
			res.BatchesWritten++
		}
	}
	a.Rows, a.Entities = res.RowsWritten, res.RowsWritten
	if err := rd.Err(); err != nil {
		return nil, partial(streamError(err, fmt.Sprintf("the Arrow IPC stream broke after row %d", res.RowsChecked)), res)
	}
	if res.RowsRefused > 0 {
		return nil, refusedError(res, validateOnly)
	}
	return res, nil
}

// streamError reports a broken or malformed client stream: a Connect error
// from the transport as it is, anything else as InvalidArgument.
func streamError(err error, what string) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, arrowio.ErrBatchTooLarge) {
		return batchTooLarge(fmt.Errorf("%s: %w", what, err))
	}
	return invalid(fmt.Errorf("%s: %v", what, err))
}

// batchTooLarge is the answer to a record batch over the server's limit:
// ResourceExhausted, naming the flag that sets the limit.
func batchTooLarge(err error) error {
	return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("%v (the server's limit, --max-ingest-batch-bytes)", err))
}

// partial adds to err what was written before it, as an
// IngestArrowResponse detail and in the message.
func partial(err error, res *fvv1.IngestArrowResponse) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	out := connect.NewError(ce.Code(), fmt.Errorf("%s (before this, %d rows in %d batches were written)", ce.Message(), res.RowsWritten, res.BatchesWritten))
	if d, derr := connect.NewErrorDetail(res); derr == nil {
		out.AddDetail(d)
	}
	return out
}

// refusedError is the InvalidArgument answer to a stream with refused
// rows: the first few in the message, all that were kept in the detail.
func refusedError(res *fvv1.IngestArrowResponse, validateOnly bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d rows refused", res.RowsRefused, res.RowsChecked)
	switch {
	case validateOnly:
		b.WriteString(" (validate only: nothing was written)")
	case res.RowsWritten == 0:
		b.WriteString("; nothing was written")
	default:
		fmt.Fprintf(&b, "; the %d rows in the %d batches before the first refused row were written, nothing after", res.RowsWritten, res.BatchesWritten)
	}
	for i, r := range res.Refusals {
		if i == 5 {
			fmt.Fprintf(&b, "; and more (the error detail lists %d)", len(res.Refusals))
			break
		}
		fmt.Fprintf(&b, "; row %d", r.Row)
		if r.Column != "" {
			fmt.Fprintf(&b, " column %s", r.Column)
		}
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	err := connect.NewError(connect.CodeInvalidArgument, errors.New(b.String()))
	if d, derr := connect.NewErrorDetail(res); derr == nil {
		err.AddDetail(d)
	}
	return err
}
