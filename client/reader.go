package client

import (
	"errors"
	"io"
	"sync/atomic"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
)

// Reader is an array.RecordReader over record batches the server streams.
// The first stream is opened when the Reader is made, so its schema is
// known; a Reader may chain further streams (a large point-in-time join is
// sent as several requests) that must share that schema.
//
// Release it when done: that also closes the stream. Err reports a failed
// stream with the server's Connect error.
type Reader struct {
	mem    memory.Allocator
	cur    *ipc.Reader
	closer func() error
	next   func() (*ipc.Reader, func() error, error) // opens the next stream; nil reader when done
	denied []string
	done   func() // run at the last Release
	rec    arrow.RecordBatch
	err    error
	refs   atomic.Int64
}

// serverStream is what Reader needs of a Connect server stream.
type serverStream interface {
	Receive() bool
	Err() error
	Close() error
}

// openStream reads the IPC stream framed in a server stream's responses;
// payload returns a response's IPC bytes and denied features.
func openStream(mem memory.Allocator, s serverStream, payload func() ([]byte, []string)) (*ipc.Reader, []string, error) {
	var denied []string
	first := true
	chunks := arrowio.NewChunkReader(func() ([]byte, error) {
		if !s.Receive() {
			if err := s.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		b, d := payload()
		if first {
			denied, first = d, false
		}
		return b, nil
	})
	r, err := ipc.NewReader(chunks, ipc.WithAllocator(mem))
	if err != nil {
		_ = s.Close()
		return nil, nil, connectError(err)
	}
	return r, denied, nil
}

// Schema implements array.RecordReader.
func (r *Reader) Schema() *arrow.Schema { return r.cur.Schema() }

// Denied returns the requested features the server's policy withheld; they
// are not in the schema.
func (r *Reader) Denied() []string { return r.denied }

// Next implements array.RecordReader.
func (r *Reader) Next() bool {
	r.rec = nil
	for r.err == nil {
		if r.cur.Next() {
			r.rec = r.cur.RecordBatch()
			return true
		}
		if err := r.cur.Err(); err != nil {
			r.err = connectError(err)
			return false
		}
		if r.next == nil {
			return false
		}
		nr, closer, err := r.next()
		if err != nil {
			r.err = err
			return false
		}
		if nr == nil {
			r.next = nil
			return false
		}
		if !nr.Schema().Equal(r.cur.Schema()) {
			nr.Release()
			_ = closer()
			r.err = errors.New("client: a later stream has another schema than the first")
			return false
		}
		r.cur.Release()
		_ = r.closer()
		r.cur, r.closer = nr, closer
	}
	return false
}

// RecordBatch implements array.RecordReader: the batch Next read, valid
// until the next call to Next (Retain it to keep it).
func (r *Reader) RecordBatch() arrow.RecordBatch { return r.rec }

// Record implements array.RecordReader.
//
// Deprecated: use RecordBatch.
func (r *Reader) Record() arrow.RecordBatch { return r.rec }

// Err implements array.RecordReader: the error that stopped Next, as the
// *connect.Error the server sent when there is one.
func (r *Reader) Err() error { return r.err }

// Retain implements array.RecordReader.
func (r *Reader) Retain() { r.refs.Add(1) }

// Release implements array.RecordReader; the last release closes the
// stream.
func (r *Reader) Release() {
	if r.refs.Add(-1) == 0 {
		r.cur.Release()
		_ = r.closer()
		if r.done != nil {
			r.done()
		}
	}
}

var _ array.RecordReader = (*Reader)(nil)

// connectError unwraps a Connect error from the IPC reader's wrapping, so
// callers can switch on connect.CodeOf.
func connectError(err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	return err
}

func newReader(mem memory.Allocator, first *ipc.Reader, closer func() error, denied []string, next func() (*ipc.Reader, func() error, error)) *Reader {
	r := &Reader{mem: mem, cur: first, closer: closer, denied: denied, next: next}
	r.refs.Add(1)
	return r
}
