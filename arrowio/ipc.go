package arrowio

import (
	"bytes"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// An Arrow IPC stream is a schema message, record batch messages and an
// end-of-stream marker, back to back. The FeatureVault API carries such a
// stream over gRPC/Connect streams one message per frame (a bytes field),
// so that concatenating the frames' bytes gives a valid IPC stream that
// any Arrow implementation reads: pyarrow.ipc.open_stream, arrow-js
// RecordBatchReader, or ipc.NewReader over ChunkReader.

// EndOfStream is the IPC end-of-stream marker: a continuation token and a
// zero length.
var EndOfStream = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// SchemaMessage returns the IPC encoding of schema: the first message of a
// stream. The schemas of this package have no dictionaries.
func SchemaMessage(schema *arrow.Schema, mem memory.Allocator) ([]byte, error) {
	p := ipc.GetSchemaPayload(schema, mem)
	defer p.Release()
	var b bytes.Buffer
	if _, err := p.WritePayload(&b); err != nil {
		return nil, fmt.Errorf("arrowio: encode schema: %w", err)
	}
	return b.Bytes(), nil
}

// BatchMessage returns the IPC encoding of one record batch, appended to
// dst. It copies the batch's buffers: rec may be released afterwards.
func BatchMessage(dst []byte, rec arrow.RecordBatch, mem memory.Allocator) ([]byte, error) {
	p, err := ipc.GetRecordBatchPayload(rec, ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("arrowio: encode record batch: %w", err)
	}
	defer p.Release()
	b := bytes.NewBuffer(dst)
	if _, err := p.WritePayload(b); err != nil {
		return nil, fmt.Errorf("arrowio: encode record batch: %w", err)
	}
	return b.Bytes(), nil
}

// ChunkReader is an io.Reader over a sequence of byte chunks, such as the
// frames of a stream: next returns the next chunk, or io.EOF after the
// last. Wrap it in ipc.NewReader to read the record batches.
type ChunkReader struct {
	next func() ([]byte, error)
	cur  []byte
	err  error
}

// NewChunkReader returns a reader of the chunks next returns.
func NewChunkReader(next func() ([]byte, error)) *ChunkReader {
	return &ChunkReader{next: next}
}

// Read implements io.Reader.
func (r *ChunkReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.cur, r.err = r.next()
		if r.err != nil && r.err != io.EOF {
			return 0, r.err
		}
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
