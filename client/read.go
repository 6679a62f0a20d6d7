package client

import (
	"context"
	"fmt"
	"math"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// Read says what ReadBatches reads. The zero value reads every row and
// every field the caller may read.
type Read struct {
	// Features to read, in column order; empty means every field.
	Features []string
	// Start and End bound event times to [Start, End); zero is open.
	Start, End time.Time
	// AsOf reads only the latest row of each entity at or before AsOf,
	// within the view's TTL. It excludes End.
	AsOf time.Time
	// CreatedCutoff ignores rows written after it (late, backfilled rows).
	CreatedCutoff time.Time
	// BatchRows is the number of rows per record batch (server default
	// 4096).
	BatchRows int
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// ReadBatches streams view as Arrow record batches: the entity key column,
// event_timestamp and the requested fields the caller may read (Denied
// lists the others). The returned reader has the schema already; release it
// when done.
func (c *Client) ReadBatches(ctx context.Context, view string, r Read) (*Reader, error) {
	if r.BatchRows < 0 || r.BatchRows > math.MaxInt32 {
		return nil, fmt.Errorf("client: BatchRows %d is out of range; use 0 for the server default or a positive row count", r.BatchRows)
	}
	req := &fvv1.ReadBatchesRequest{
		View: view, Features: r.Features, StartTime: ts(r.Start), EndTime: ts(r.End),
		AsOf: ts(r.AsOf), CreatedCutoff: ts(r.CreatedCutoff), BatchRows: int32(r.BatchRows), // #nosec G115 -- range checked above
	}
	s, err := c.fs.ReadBatches(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	rd, denied, err := openStream(c.cfg.mem, s, func() ([]byte, []string) {
		return s.Msg().ArrowIpc, s.Msg().DeniedFeatures
	})
	if err != nil {
		return nil, err
	}
	return newReader(c.cfg.mem, rd, s.Close, denied, nil), nil
}
