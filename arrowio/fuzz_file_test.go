package arrowio_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/internal/fuzzcorpus"
	"github.com/featurevault/featurevault/store"
)

// tableFile returns a file of format f holding rows of view profile,
// written by NewFileWriter as export writes it.
func tableFile(tb testing.TB, f arrowio.Format, rows []profileRow) []byte {
	tb.Helper()
	mem := memory.NewGoAllocator()
	rec := profileBatch(tb, mem, rows)
	defer rec.Release()
	var buf bytes.Buffer
	w, err := arrowio.NewFileWriter(&buf, f, rec.Schema(), mem)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// readFile writes data to the file at path and reads it through OpenFile
// as format f, as `featurevault ingest` does, decoding every batch into
// view v. An error opening the file is returned as is; an error reading
// its batches (from the Arrow or Parquet reader: the CLI adds the path) is
// wrapped in errRead.
func readFile(t *testing.T, path string, data []byte, f arrowio.Format, v store.View, e store.Entity) ([]store.Row, error) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := arrowio.OpenFile(t.Context(), path, f, v, e, memory.NewGoAllocator(), 64)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	d, err := arrowio.NewDecoder(src.Schema(), v, e)
	if err != nil {
		return nil, err
	}
	var all []store.Row
	var first int64
	for src.Next() {
		rec := src.RecordBatch()
		rows, kept, refused := d.Decode(rec, first, nil)
		checkDecoded(t, v, d, int(rec.NumRows()), first, rows, kept, refused)
		first += rec.NumRows()
		all = append(all, rows...)
	}
	if err := src.Err(); err != nil {
		return all, &readError{err}
	}
	return all, nil
}

// readError is an error met reading a file's batches.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

// fuzzFile is the body of the file fuzz targets: any bytes read as format
// f give rows under the Decoder's contract or an error of this package,
// within allocBound.
//
// Every input is written over the same file: a fuzzing process runs its
// inputs one at a time, and a directory made and removed per input cost
// more than reading most inputs (ext4's inode allocation was the largest
// entry in a CPU profile of a fuzzing worker).
func fuzzFile(f *testing.F, format arrowio.Format, seeds ...[]byte) {
	for _, s := range seeds {
		fuzzcorpus.Add(f, s)
	}
	v, e := specView(f, "profile")
	path := filepath.Join(f.TempDir(), "table")
	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocated()
		_, err := readFile(t, path, data, format, v, e)
		checkAllocs(t, before, arrowio.DefaultMaxBatchBytes, len(data))
		var re *readError
		switch {
		case errors.As(err, &re):
			if re.Error() == "" {
				t.Error("reading failed with an empty error message")
			}
		case err != nil:
			checkErrorPrefix(t, err)
		}
	})
}

// FuzzOpenArrowFile reads arbitrary bytes as an Arrow IPC file or stream
// through OpenFile: no panic, memory bounded by the input, rows under the
// Decoder's contract. Seeds are files export writes, and a stream.
func FuzzOpenArrowFile(f *testing.F) {
	rows := sampleProfileRows()
	file := tableFile(f, arrowio.FormatArrow, rows)
	fuzzFile(f, arrowio.FormatArrow, file, ipcStream(f, rows), file[:len(file)/2], []byte("ARROW1\x00\x00"))
}

// FuzzOpenParquet reads arbitrary bytes as a Parquet file through
// OpenFile: no panic, memory bounded by the input, rows under the
// Decoder's contract. The seed is a file export writes.
func FuzzOpenParquet(f *testing.F) {
	file := tableFile(f, arrowio.FormatParquet, sampleProfileRows())
	fuzzFile(f, arrowio.FormatParquet, file, file[:len(file)-8], []byte("PAR1\x00\x00\x00\x00PAR1"))
}

// TestOpenFileReadsWhatExportWrites: the files the fuzz targets start from
// read back to the rows written, so the seeds are real files.
func TestOpenFileReadsWhatExportWrites(t *testing.T) {
	t.Parallel()
	v, e := specView(t, "profile")
	rows := sampleProfileRows()
	var want []store.Row
	for i, r := range rows {
		want = append(want, rowOf(r, i))
	}
	for _, f := range []arrowio.Format{arrowio.FormatArrow, arrowio.FormatParquet} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			got, err := readFile(t, filepath.Join(t.TempDir(), "table"), tableFile(t, f, rows), f, v, e)
			if err != nil {
				t.Fatal(err)
			}
			if !sameRows(got, want) {
				t.Errorf("read back\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
