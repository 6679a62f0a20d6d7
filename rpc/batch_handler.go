package rpc

import (
	"context"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/arrowio"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// ReadBatches streams a view as Arrow IPC: the schema, then one record
// batch per response, then the end-of-stream marker. Scanning and
// decryption (store.Scanner) run one batch ahead of the network in their
// own goroutine, so the two overlap; memory holds at most three batches
// whatever the size of the view.
func (h *arrowHandler) ReadBatches(ctx context.Context, req *connect.Request[fvv1.ReadBatchesRequest], stream *connect.ServerStream[fvv1.ReadBatchesResponse]) error {
	a := access{Procedure: req.Spec().Procedure, View: req.Msg.View, Action: actionRead}
	a.Err = h.readBatches(ctx, req, stream, &a)
	return h.record(ctx, req.Header(), a)
}

func (h *arrowHandler) readBatches(ctx context.Context, req *connect.Request[fvv1.ReadBatchesRequest], stream *connect.ServerStream[fvv1.ReadBatchesResponse], a *access) error {
	m := req.Msg
	proc := req.Spec().Procedure
	v, err := h.store.View(m.View)
	if err != nil {
		return toConnect(h.log, proc, err)
	}
	requested := m.Features
	if len(requested) == 0 {
		for _, f := range v.Fields {
			requested = append(requested, f.Name)
		}
	}
	if a.Allowed, a.Denied, err = h.columns(ctx, req.Header(), m.View, actionRead, requested); err != nil {
		return err
	}
	if len(a.Allowed) == 0 {
		return permissionDenied("policy lets you read none of the requested fields of view %q", m.View)
	}
	o := store.ScanOptions{Features: a.Allowed, BatchRows: int(m.BatchRows)}
	if o.Start, err = optionalTime("start_time", m.StartTime); err != nil {
		return err
	}
	if o.End, err = optionalTime("end_time", m.EndTime); err != nil {
		return err
	}
	if o.AsOf, err = optionalTime("as_of", m.AsOf); err != nil {
		return err
	}
	if o.CreatedCutoff, err = optionalTime("created_cutoff", m.CreatedCutoff); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sc, err := h.store.Scan(ctx, m.View, o)
	if err != nil {
		return toConnect(h.log, proc, err)
	}
	defer sc.Close()
	enc, err := arrowio.NewEncoder(arrowMem, sc.View(), sc.Entity(), sc.Fields())
	if err != nil {
		return connect.NewError(connect.CodeFailedPrecondition, err)
	}
	defer enc.Release()
	schema, err := arrowio.SchemaMessage(enc.Schema(), arrowMem)
	if err != nil {
		return toConnect(h.log, proc, err)
	}
	if err := stream.Send(&fvv1.ReadBatchesResponse{ArrowIpc: schema, DeniedFeatures: a.Denied}); err != nil {
		return err
	}
	var last string // the previous row's entity key: rows of an entity are adjacent in a scan
	frames, free, errc := produceFrames(ctx, func(buf []byte) ([]byte, int64, bool, error) {
		if !sc.Next() {
			return nil, 0, false, sc.Err()
		}
		b := sc.Batch()
		for i := range b.Len() {
			if k := b.EntityKey(i); a.Entities == 0 || k != last {
				a.Entities++
				last = k
			}
		}
		rec, err := enc.Encode(b)
		if err != nil {
			return nil, 0, false, err
		}
		defer rec.Release()
		buf, err = arrowio.BatchMessage(buf, rec, arrowMem)
		return buf, rec.NumRows(), true, err
	})
	for f := range frames {
		err := stream.Send(&fvv1.ReadBatchesResponse{ArrowIpc: f.msg, Rows: f.rows})
		free <- f.msg[:0]
		if err != nil {
			cancel()
			for range frames { // let the producer finish
			}
			return err
		}
		a.Rows += f.rows
	}
	if err := <-errc; err != nil {
		return toConnect(h.log, proc, err)
	}
	return stream.Send(&fvv1.ReadBatchesResponse{ArrowIpc: arrowio.EndOfStream})
}

// frame is one encoded IPC message ready to send.
type frame struct {
	msg  []byte
	rows int64
}

// produceFrames runs next in a goroutine until it reports no more frames
// or fails, handing frames over a channel one ahead of the consumer. The
// consumer returns each frame's buffer on free for reuse; errc yields
// next's error (or nil) once frames is closed. Cancel ctx to stop early.
func produceFrames(ctx context.Context, next func(buf []byte) (msg []byte, rows int64, more bool, err error)) (<-chan frame, chan<- []byte, <-chan error) {
	frames := make(chan frame, 1)
	free := make(chan []byte, 3)
	errc := make(chan error, 1)
	go func() {
		defer close(frames)
		for {
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			msg, rows, more, err := next(buf)
			if err != nil || !more {
				errc <- err
				return
			}
			select {
			case frames <- frame{msg, rows}:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
	}()
	return frames, free, errc
}
