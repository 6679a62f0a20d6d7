package client

import (
	"bytes"
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// maxRequestBytes keeps each request under the server's default limit on
// one message (4 MiB) with room to spare.
const maxRequestBytes = 3 << 20

// Historical says what GetHistoricalFeatures joins.
type Historical struct {
	// Features as "view:field", or "view:*" for every field of a view.
	Features []string
	// CreatedCutoff ignores rows written after it.
	CreatedCutoff time.Time
	// FullFeatureNames names the columns "view__field" instead of "field".
	FullFeatureNames bool
	// TimestampColumn names the entity rows' timestamp column (default
	// "event_timestamp").
	TimestampColumn string
}

// GetHistoricalFeatures is the point-in-time join of Feast's
// get_historical_features: entityRows holds a column per join key and a
// timestamp column (plus any others, such as labels, which are passed
// through); the reader returns those columns and, per feature, the value
// of the latest row at or before each row's timestamp within its view's
// TTL (null when there is none), in the order of entityRows.
//
// Entity rows are sent in requests of at most ~3 MiB of Arrow IPC each,
// one request at a time as the reader advances, so a frame of any size
// works. The reader does not take ownership of entityRows, which must stay
// readable until the returned reader is exhausted.
func (c *Client) GetHistoricalFeatures(ctx context.Context, entityRows array.RecordReader, h Historical) (*Reader, error) {
	chunks := &entityChunks{in: entityRows}
	open := func() (*ipc.Reader, func() error, []string, error) {
		body, ok, err := chunks.next()
		if err != nil || !ok {
			return nil, nil, nil, err
		}
		req := &fvv1.GetHistoricalFeaturesRequest{
			Features: h.Features, EntityRows: body, CreatedCutoff: ts(h.CreatedCutoff),
			FullFeatureNames: h.FullFeatureNames, TimestampColumn: h.TimestampColumn,
		}
		s, err := c.fs.GetHistoricalFeatures(ctx, connect.NewRequest(req))
		if err != nil {
			return nil, nil, nil, err
		}
		rd, denied, err := openStream(c.cfg.mem, s, func() ([]byte, []string) {
			return s.Msg().ArrowIpc, s.Msg().DeniedFeatures
		})
		if err != nil {
			return nil, nil, nil, err
		}
		return rd, s.Close, denied, nil
	}
	first, closer, denied, err := open()
	if err == nil && first == nil {
		err = errors.New("client: entityRows has no rows")
	}
	if err != nil {
		chunks.release()
		return nil, err
	}
	r := newReader(c.cfg.mem, first, closer, denied, func() (*ipc.Reader, func() error, error) {
		rd, closer, _, err := open()
		return rd, closer, err
	})
	r.done = chunks.release
	return r, nil
}

// entityChunks cuts a record reader into IPC streams of at most
// maxRequestBytes, halving a slice of rows until it fits.
type entityChunks struct {
	in   array.RecordReader
	rec  arrow.RecordBatch // current input record, retained
	off  int64             // rows of rec already sent
	rows int64             // rows to try per chunk
}

func (e *entityChunks) release() {
	if e.rec != nil {
		e.rec.Release()
		e.rec = nil
	}
}

func (e *entityChunks) next() ([]byte, bool, error) {
	for e.rec == nil || e.off == e.rec.NumRows() {
		if e.rec != nil {
			e.rec.Release()
			e.rec = nil
		}
		if !e.in.Next() {
			return nil, false, e.in.Err()
		}
		e.rec, e.off = e.in.RecordBatch(), 0
		e.rec.Retain()
	}
	if e.rows == 0 {
		e.rows = 1 << 17
	}
	for {
		n := min(e.rows, e.rec.NumRows()-e.off)
		slice := e.rec.NewSlice(e.off, e.off+n)
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(e.rec.Schema()))
		err := w.Write(slice)
		if err == nil {
			err = w.Close()
		}
		slice.Release()
		if err != nil {
			return nil, false, err
		}
		if buf.Len() <= maxRequestBytes || n == 1 {
			e.off += n
			return buf.Bytes(), true, nil
		}
		e.rows = max(1, n/2)
	}
}
