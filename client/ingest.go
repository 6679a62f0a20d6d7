package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/featurevault/featurevault/arrowio"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// DefaultIngestBatchRows is the default number of rows per atomic batch of
// an ingest. The server also bounds a batch by bytes (about 10 MB of
// encrypted values, e.g. 4,000 rows of 50 float64 features); lower
// BatchRows for wider rows.
const DefaultIngestBatchRows = 2048

// Ingest configures IngestArrow.
type Ingest struct {
	// ValidateOnly has the server check every row and report refusals
	// without writing anything.
	ValidateOnly bool
	// BatchRows is the most rows per batch (default
	// DefaultIngestBatchRows). Each batch is one atomic commit: records of
	// the input are cut to fit, and to fit in one message (about 3 MiB).
	BatchRows int
	// Progress, when set, is called after each batch is sent with the
	// number of rows sent so far.
	Progress func(rows int64)
}

// IngestError is returned by IngestArrow when the server refused rows (or
// failed after writing some batches): Result says what was written and
// which rows were refused, and why.
type IngestError struct {
	Result *fvv1.IngestArrowResponse
	Err    *connect.Error
}

func (e *IngestError) Error() string { return e.Err.Message() }

func (e *IngestError) Unwrap() error { return e.Err }

// IngestArrow writes the rows of rdr to view: columns named after the join
// key, event_timestamp and any of the view's fields. Each batch is atomic;
// after the first batch with a refused row nothing more is written, and the
// returned *IngestError lists every refused row (up to 100). The caller
// keeps ownership of rdr.
func (c *Client) IngestArrow(ctx context.Context, view string, rdr array.RecordReader, o Ingest) (*fvv1.IngestArrowResponse, error) {
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultIngestBatchRows
	}
	stream := c.fs.IngestArrow(ctx)
	schema, err := arrowio.SchemaMessage(rdr.Schema(), c.cfg.mem)
	if err != nil {
		return nil, err
	}
	sent := int64(0)
	send := func(m *fvv1.IngestArrowRequest) error {
		err := stream.Send(m)
		if errors.Is(err, io.EOF) {
			return nil // the server has answered; CloseAndReceive says what
		}
		return err
	}
	err = send(&fvv1.IngestArrowRequest{View: view, ValidateOnly: o.ValidateOnly, ArrowIpc: schema})
	var buf []byte
	for err == nil && rdr.Next() {
		err = splitRecord(rdr.RecordBatch(), int64(o.BatchRows), func(part arrow.RecordBatch) error {
			var err error
			if buf, err = arrowio.BatchMessage(buf[:0], part, c.cfg.mem); err != nil {
				return err
			}
			if len(buf) > maxRequestBytes && part.NumRows() > 1 {
				return errTooBig
			}
			if err := send(&fvv1.IngestArrowRequest{ArrowIpc: buf}); err != nil {
				return err
			}
			sent += part.NumRows()
			if o.Progress != nil {
				o.Progress(sent)
			}
			return nil
		})
	}
	if err == nil {
		err = rdr.Err()
	}
	if err == nil {
		err = send(&fvv1.IngestArrowRequest{ArrowIpc: arrowio.EndOfStream})
	}
	if err != nil {
		_, _ = stream.CloseAndReceive()
		return nil, err
	}
	res, err := stream.CloseAndReceive()
	if err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) {
			for _, d := range ce.Details() {
				if m, derr := d.Value(); derr == nil {
					if r, ok := m.(*fvv1.IngestArrowResponse); ok {
						return r, &IngestError{Result: r, Err: ce}
					}
				}
			}
		}
		return nil, err
	}
	return res.Msg, nil
}

var errTooBig = errors.New("client: batch message too large")

// splitRecord calls send with consecutive slices of rec of at most rows
// rows, halving a slice that send finds too large.
func splitRecord(rec arrow.RecordBatch, rows int64, send func(arrow.RecordBatch) error) error {
	for off := int64(0); off < rec.NumRows(); {
		n := min(rows, rec.NumRows()-off)
		part := rec.NewSlice(off, off+n)
		err := send(part)
		part.Release()
		if errors.Is(err, errTooBig) {
			rows = max(1, n/2)
			continue
		}
		if err != nil {
			return fmt.Errorf("client: send rows %d..%d: %w", off, off+n-1, err)
		}
		off += n
	}
	return nil
}
