package arrowio_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/internal/fuzzcorpus"
	"github.com/featurevault/featurevault/store"
)

// ipcStream returns the IPC stream of rows of view profile, as a client
// sends it: schema, one batch, end of stream.
func ipcStream(tb testing.TB, rows []profileRow) []byte {
	tb.Helper()
	mem := memory.NewGoAllocator()
	rec := profileBatch(tb, mem, rows)
	defer rec.Release()
	out, err := arrowio.SchemaMessage(rec.Schema(), mem)
	if err != nil {
		tb.Fatal(err)
	}
	if out, err = arrowio.BatchMessage(out, rec, mem); err != nil {
		tb.Fatal(err)
	}
	return append(out, arrowio.EndOfStream...)
}

// withBodyLength returns stream with the body length of its record batch
// message replaced by n and the body cut off: a header that claims a
// body it never sends.
func withBodyLength(tb testing.TB, stream []byte, n uint64) []byte {
	tb.Helper()
	schemaLen := 8 + int(binary.LittleEndian.Uint32(stream[4:8]))
	batch := stream[schemaLen:]
	metaLen := int(binary.LittleEndian.Uint32(batch[4:8]))
	bodyLen := len(batch) - 8 - metaLen - len(arrowio.EndOfStream)
	var old [8]byte
	binary.LittleEndian.PutUint64(old[:], uint64(bodyLen))
	at := bytes.Index(batch[8:8+metaLen], old[:])
	if at < 0 {
		tb.Fatal("body length not found in the batch metadata")
	}
	out := append([]byte{}, stream[:schemaLen+8+metaLen]...)
	binary.LittleEndian.PutUint64(out[schemaLen+8+at:], n)
	return out
}

// streamLimit is the batch size limit of the stream fuzz target.
const streamLimit = 1 << 20

// readStream reads an IPC stream the way the IngestArrow handler does: in
// chunks of at most chunk bytes through a ChunkReader, with a body limit,
// decoding every batch into view v. It returns the rows and the first
// error.
func readStream(t *testing.T, data []byte, chunk int, v store.View, e store.Entity) ([]store.Row, error) {
	t.Helper()
	rest := data
	chunks := arrowio.NewChunkReader(func() ([]byte, error) {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		n := min(chunk, len(rest))
		b := rest[:n]
		rest = rest[n:]
		return b, nil
	})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rd, err := arrowio.NewStreamReader(chunks, mem, streamLimit)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	d, err := arrowio.NewDecoder(rd.Schema(), v, e)
	if err != nil {
		return nil, err
	}
	var all []store.Row
	var first int64
	for rd.Next() {
		rec := rd.RecordBatch()
		rows, kept, refused := d.Decode(rec, first, nil)
		checkDecoded(t, v, d, int(rec.NumRows()), first, rows, kept, refused)
		first += rec.NumRows()
		all = append(all, rows...)
	}
	return all, rd.Err()
}

// FuzzStreamReader feeds arbitrary bytes to the IngestArrow read path
// (ChunkReader, NewStreamReader, NewDecoder, Decode). Properties: no
// panic; no allocation much beyond the input's size (a 20-byte header
// claiming a terabyte body must not be allocated); every batch that reads
// decodes under the Decoder's contract; errors are this package's.
func FuzzStreamReader(f *testing.F) {
	good := ipcStream(f, sampleProfileRows())
	fuzzcorpus.Add(f, good)
	fuzzcorpus.Add(f, good[:len(good)-len(arrowio.EndOfStream)])
	fuzzcorpus.Add(f, good[:len(good)/2])
	fuzzcorpus.Add(f, withBodyLength(f, good, 1<<40))
	fuzzcorpus.Add(f, withBodyLength(f, good, 60<<20))
	fuzzcorpus.Add(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	fuzzcorpus.Add(f, arrowio.EndOfStream)
	v, e := specView(f, "profile")
	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocated()
		_, err := readStream(t, data, 1000, v, e)
		checkAllocs(t, before, streamLimit, len(data))
		if err != nil {
			checkErrorPrefix(t, err)
		}
	})
}

// TestStreamReaderRefusesWhatItCannotRead pins the inputs the fuzzer found
// (and variants): each is refused with an error saying what is wrong,
// without a panic or an allocation of the claimed size.
func TestStreamReaderRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	v, e := specView(t, "profile")
	good := ipcStream(t, sampleProfileRows())
	badOffsets := append([]byte{}, good...)
	// The key column's offsets are 0, 3, 6, 9 ("c-1", "c-2", "c-3"): make
	// the second point past the data.
	at := bytes.Index(badOffsets, []byte{0, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 9, 0, 0, 0})
	if at < 0 {
		t.Fatal("key offsets not found in the stream")
	}
	binary.LittleEndian.PutUint32(badOffsets[at+4:], 200)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"body of a terabyte claimed", withBodyLength(t, good, 1<<40), "exceeds the size limit"},
		{"body above the limit claimed", withBodyLength(t, good, 2<<20), "claims a 2097152-byte body, the limit is 1048576"},
		{"body within the limit claimed, not sent", withBodyLength(t, good, 1<<20), "unexpected EOF"},
		{"string offsets past the data", badOffsets, `record batch 0: column "customer_id" is malformed`},
		{"metadata length above the limit", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "IPC message metadata of 2147483647 bytes"},
		{"negative metadata length", []byte{0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff}, "IPC message metadata of -2 bytes"},
		{"no schema", arrowio.EndOfStream, "does not start with a schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := heapAllocated()
			rows, err := readStream(t, tc.data, 1000, v, e)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("read = %d rows, error %v; want an error containing %q", len(rows), err, tc.want)
			}
			if got := heapAllocated() - before; got > 64<<20 {
				t.Errorf("allocated %d bytes reading %d", got, len(tc.data))
			}
		})
	}
}

// FuzzIPCRoundTrip checks that any row a client can build survives the
// IPC stream: built with Arrow builders, sent in chunks of any size, read
// with NewStreamReader and decoded, it comes back equal.
func FuzzIPCRoundTrip(f *testing.F) {
	for _, r := range sampleProfileRows() {
		fuzzcorpus.Add(f, r.key, r.at, r.active, r.age, r.income, r.email, r.avatar, r.signup, float32Bytes(r.embedding), uint16(7))
	}
	v, e := specView(f, "profile")
	f.Fuzz(func(t *testing.T, key string, at int64, active bool, age int64, income float64, email string, avatar []byte, signup int64, emb []byte, chunk uint16) {
		r := profileRow{key, at, active, age, income, email, avatar, signup, bytesFloat32(emb)}
		data := ipcStream(t, []profileRow{r, r})
		got, err := readStream(t, data, int(chunk)+1, v, e)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		want := []store.Row{rowOf(r, 0), rowOf(r, 1)}
		if !sameRows(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	})
}

func float32Bytes(xs []float32) []byte {
	var b []byte
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func bytesFloat32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// sameRows compares rows value by value, NaN equal to NaN (bit for bit).
func sameRows(got, want []store.Row) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.EntityKey != w.EntityKey || !g.EventTime.Equal(w.EventTime) || len(g.Values) != len(w.Values) {
			return false
		}
		for k, wv := range w.Values {
			gv, ok := g.Values[k]
			if !ok || !sameValue(gv, wv) {
				return false
			}
		}
	}
	return true
}

func sameValue(g, w any) bool {
	switch w := w.(type) {
	case float64:
		g, ok := g.(float64)
		return ok && math.Float64bits(g) == math.Float64bits(w)
	case []float32:
		g, ok := g.([]float32)
		return ok && bytes.Equal(float32Bytes(g), float32Bytes(w))
	}
	return reflect.DeepEqual(g, w)
}
