package arrowio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultMaxBatchBytes is the largest record batch OpenFile reads from an
// Arrow IPC stream or file (256 MiB, Arrow's own default).
const DefaultMaxBatchBytes = 256 << 20

// maxMetadataBytes bounds the metadata of one IPC message: a schema or a
// record batch header. Real ones are kilobytes; a schema of thousands of
// fields with pandas metadata is under a megabyte. arrow-go's objects for
// a schema take some 25 times its metadata.
const maxMetadataBytes = 4 << 20

// ErrBatchTooLarge is wrapped by the error of a StreamReader that met a
// message or record batch above its size limit.
var ErrBatchTooLarge = errors.New("arrowio: Arrow IPC record batch exceeds the size limit")

// StreamReader reads the record batches of an Arrow IPC stream that comes
// from someone else: a client of the server, or a file an operator names.
// Its contract is that no input, however malformed, makes it panic or
// allocate much more than the bytes it has actually received:
//
//   - a message whose metadata or body is larger than the limit is refused
//     before anything is allocated for it (ipc.NewReader ignores
//     ipc.WithBodySizeLimit and would allocate whatever length a 20-byte
//     header claims, killing the process);
//   - a message's memory grows as its bytes arrive, so a header claiming a
//     large body costs nothing until the body is sent;
//   - compressed buffers and dictionaries are decompressed into at most
//     the limit in total;
//   - every record batch is fully validated (offsets in order and within
//     their buffers, null counts) before Next returns it, so the
//     converters of Decoder and the history readers never index outside a
//     buffer.
//
// Errors name the batch and column at fault but never quote a value.
type StreamReader struct {
	r     *ipc.Reader
	batch int // index of the current record batch
	err   error
}

// NewStreamReader reads the schema message of r and returns a reader of
// its record batches, each at most maxBatchBytes of body (and of
// decompressed buffers); maxBatchBytes <= 0 means DefaultMaxBatchBytes.
// Arrays are built in mem. Release the reader when done.
func NewStreamReader(r io.Reader, mem memory.Allocator, maxBatchBytes int64) (*StreamReader, error) {
	if maxBatchBytes <= 0 {
		maxBatchBytes = DefaultMaxBatchBytes
	}
	alloc := &boundedAllocator{mem: mem, limit: maxBatchBytes,
		over: fmt.Errorf("%w: decompressed buffers or dictionaries above %d bytes", ErrBatchTooLarge, maxBatchBytes)}
	mr := newMessageReader(r, maxBatchBytes)
	rd, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(alloc))
	if err != nil {
		return nil, fmt.Errorf("arrowio: the Arrow IPC stream does not start with a schema: %w", err)
	}
	return &StreamReader{r: rd, batch: -1}, nil
}

// Schema returns the schema of the stream.
func (s *StreamReader) Schema() *arrow.Schema { return s.r.Schema() }

// Next advances to the next record batch, validated. It returns false at
// the end of the stream or on an error (see Err).
func (s *StreamReader) Next() bool {
	if s.err != nil || !s.r.Next() {
		return false
	}
	s.batch++
	if err := validateBatch(s.r.RecordBatch()); err != nil {
		s.err = fmt.Errorf("arrowio: record batch %d: %w", s.batch, err)
		return false
	}
	return true
}

// RecordBatch returns the current record batch, valid until Next.
func (s *StreamReader) RecordBatch() arrow.RecordBatch {
	if s.err != nil {
		return nil
	}
	return s.r.RecordBatch()
}

// Record returns the current record batch.
//
// Deprecated: use RecordBatch; Record is here for array.RecordReader.
func (s *StreamReader) Record() arrow.RecordBatch { return s.RecordBatch() }

// Err returns the error that stopped Next, or nil at a clean end of the
// stream. An error from a size limit wraps ErrBatchTooLarge.
func (s *StreamReader) Err() error {
	if s.err != nil {
		return s.err
	}
	if err := s.r.Err(); err != nil {
		if errors.Is(err, ErrBatchTooLarge) {
			return fmt.Errorf("arrowio: record batch %d: %w; send smaller batches", s.batch+1, err)
		}
		return fmt.Errorf("arrowio: record batch %d is not valid Arrow IPC: %w", s.batch+1, err)
	}
	return nil
}

// Retain adds a reference to the reader.
func (s *StreamReader) Retain() { s.r.Retain() }

// Release drops a reference; the last one frees the current batch.
func (s *StreamReader) Release() { s.r.Release() }

// validateBatch checks every column of rec: offsets in order and inside
// their buffers, buffers as long as the column, null counts right. A
// utf8 value that is not UTF-8 is left to the store, which refuses its
// row (and says why) rather than the whole batch. The messages hold
// only lengths and offsets, never a value.
func validateBatch(rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		name := rec.Schema().Field(i).Name
		if err := array.Validate(col); err != nil {
			return fmt.Errorf("column %q is malformed: %v", name, err)
		}
		if !validFull(col) {
			return fmt.Errorf("column %q is malformed: offsets out of order or past the data, or a wrong null count", name)
		}
	}
	return nil
}

// validFull reports whether array.ValidateFull accepts col, with utf8
// columns checked as binary (the same layout, without the UTF-8 check).
// ValidateFull itself panics on some corrupt offsets (arrow-go v18.8.0
// slices a string before checking that its offsets are in order), which
// is as much a "no".
func validFull(col arrow.Array) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var asBinary arrow.DataType
	switch col.DataType().ID() {
	case arrow.STRING:
		asBinary = arrow.BinaryTypes.Binary
	case arrow.LARGE_STRING:
		asBinary = arrow.BinaryTypes.LargeBinary
	}
	if asBinary != nil {
		d := col.Data()
		data := array.NewData(asBinary, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
		defer data.Release()
		col = array.MakeFromData(data)
		defer col.Release()
	}
	return array.ValidateFull(col) == nil
}

// messageReader is an ipc.MessageReader that checks the lengths a message
// claims against its limits and reads each message into memory that grows
// with the bytes received.
type messageReader struct {
	r       io.Reader
	maxBody int64
	msg     *ipc.Message
	refs    atomic.Int64
}

// newMessageReader reads messages of r with bodies of at most maxBody
// bytes; it holds one reference.
func newMessageReader(r io.Reader, maxBody int64) *messageReader {
	m := &messageReader{r: r, maxBody: maxBody}
	m.refs.Store(1)
	return m
}

// continuation is the marker before each message's metadata length.
const continuation = 0xFFFFFFFF

// Message implements ipc.MessageReader: the next message, or io.EOF at the
// end-of-stream marker or the end of r.
func (m *messageReader) Message() (*ipc.Message, error) {
	if m.msg != nil {
		m.msg.Release()
		m.msg = nil
	}
	var word [4]byte
	if _, err := io.ReadFull(m.r, word[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("arrowio: read an IPC message: %w", err)
	}
	metaLen := binary.LittleEndian.Uint32(word[:])
	if metaLen == continuation {
		if _, err := io.ReadFull(m.r, word[:]); err != nil {
			return nil, fmt.Errorf("arrowio: read an IPC message length: %w", noEOF(err))
		}
		metaLen = binary.LittleEndian.Uint32(word[:])
	}
	if metaLen == 0 {
		return nil, io.EOF // the end-of-stream marker
	}
	if metaLen < 4 || metaLen > maxMetadataBytes {
		return nil, fmt.Errorf("arrowio: IPC message metadata of %d bytes; it must be 4 to %d", int32(metaLen), maxMetadataBytes) // #nosec G115 -- shown as Arrow's signed length
	}
	meta, err := readGrowing(m.r, int64(metaLen))
	if err != nil {
		return nil, fmt.Errorf("arrowio: read IPC message metadata: %w", err)
	}
	bodyLen, err := verifyMessage(meta)
	if err != nil {
		return nil, err
	}
	if bodyLen < 0 || bodyLen > m.maxBody {
		return nil, fmt.Errorf("%w: a message claims a %d-byte body, the limit is %d", ErrBatchTooLarge, bodyLen, m.maxBody)
	}
	body, err := readGrowing(m.r, bodyLen)
	if err != nil {
		return nil, fmt.Errorf("arrowio: read an IPC message body of %d bytes: %w", bodyLen, err)
	}
	m.msg = ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(body))
	return m.msg, nil
}

// readGrowing reads exactly n bytes into a buffer that grows as they
// arrive, so that a length nobody sends is never allocated.
func readGrowing(r io.Reader, n int64) ([]byte, error) {
	var b bytes.Buffer
	got, err := io.CopyN(&b, r, n)
	if got < n {
		return nil, noEOF(err)
	}
	return b.Bytes(), nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (m *messageReader) Retain() { m.refs.Add(1) }

func (m *messageReader) Release() {
	if m.refs.Add(-1) == 0 && m.msg != nil {
		m.msg.Release()
		m.msg = nil
	}
}

// boundedAllocator refuses, by panicking with its error over, to hold
// more than limit bytes at once. The readers that allocate from it (the
// IPC reader while loading a batch, the Parquet reader) run under a
// recover that turns the panic into their error.
type boundedAllocator struct {
	mem   memory.Allocator
	limit int64
	over  error
	used  atomic.Int64
}

func (a *boundedAllocator) reserve(n int64) {
	if a.used.Add(n) > a.limit {
		a.used.Add(-n)
		panic(a.over)
	}
}

func (a *boundedAllocator) Allocate(size int) []byte {
	if size < 0 {
		panic(errNegativeSize)
	}
	a.reserve(int64(size))
	return a.mem.Allocate(size)
}

func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	if size < 0 {
		panic(errNegativeSize)
	}
	a.reserve(int64(size - len(b)))
	return a.mem.Reallocate(size, b)
}

var errNegativeSize = errors.New("arrowio: a buffer of negative size; the file or stream is corrupt")

func (a *boundedAllocator) Free(b []byte) {
	a.used.Add(-int64(len(b)))
	a.mem.Free(b)
}
