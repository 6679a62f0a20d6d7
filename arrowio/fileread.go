package arrowio

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/store"
)

// Format is a file format of tables.
type Format string

// The formats ingest reads and export writes (CSV is read only).
const (
	FormatArrow   Format = "arrow"   // Arrow IPC: the file format (Feather v2) or a stream
	FormatParquet Format = "parquet" // Apache Parquet
	FormatCSV     Format = "csv"     // CSV with a header line; see CSVReader
)

// ParseFormat reads a --format value; "" and "auto" return "".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return "", nil
	case "arrow", "ipc", "feather", "arrows":
		return FormatArrow, nil
	case "parquet":
		return FormatParquet, nil
	case "csv":
		return FormatCSV, nil
	}
	return "", fmt.Errorf("arrowio: unknown format %q; use arrow, parquet or csv", s)
}

// DetectFormat names the format of the file at path from its first bytes
// (Parquet and Arrow have magic numbers), else from its extension.
func DetectFormat(path string) (Format, error) {
	f, err := os.Open(path) // #nosec G304 -- a file the caller names (the CLI's operator)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PAR1")):
		return FormatParquet, nil
	case bytes.HasPrefix(head, []byte("ARROW1")), bytes.HasPrefix(head, []byte{0xff, 0xff, 0xff, 0xff}):
		return FormatArrow, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV, nil
	case ".parquet", ".pq":
		return FormatParquet, nil
	case ".arrow", ".arrows", ".feather", ".ipc":
		return FormatArrow, nil
	}
	return "", fmt.Errorf("arrowio: cannot tell the format of %s from its content or extension; give --format arrow, parquet or csv", path)
}

// Source is an opened table file: its record batches and, when the format
// says, its row count.
type Source struct {
	array.RecordReader
	Format Format
	// Rows is the number of rows in the file, or -1 when unknown until read.
	Rows int64
	// CSV is the CSV reader, for its Problems; nil for other formats.
	CSV    *CSVReader
	closer func() error
}

// Close releases the reader and closes the file.
func (s *Source) Close() error {
	s.RecordReader.Release()
	if s.closer != nil {
		return s.closer()
	}
	return nil
}

// OpenFile opens a table file of format f (DetectFormat when empty) for
// ingest into view v (entity e): batches of about batchRows rows, built in
// mem. CSV cells are parsed by the view's field types; Arrow and Parquet
// files keep their own schema, which NewDecoder then checks.
func OpenFile(ctx context.Context, path string, f Format, v store.View, e store.Entity, mem memory.Allocator, batchRows int) (*Source, error) {
	if f == "" {
		var err error
		if f, err = DetectFormat(path); err != nil {
			return nil, err
		}
	}
	if batchRows <= 0 {
		batchRows = store.DefaultBatchRows
	}
	switch f {
	case FormatParquet:
		return openParquet(ctx, path, mem, batchRows)
	case FormatArrow:
		return openArrow(path, mem)
	case FormatCSV:
		fh, err := os.Open(path) // #nosec G304 -- a file the caller names (the CLI's operator)
		if err != nil {
			return nil, err
		}
		r, err := NewCSVReader(bufio.NewReaderSize(fh, 1<<20), v, e, mem, batchRows)
		if err != nil {
			_ = fh.Close()
			return nil, err
		}
		rows := int64(-1)
		if n, err := countLines(path); err == nil {
			rows = max(0, n-1)
		}
		return &Source{RecordReader: r, Format: FormatCSV, Rows: rows, CSV: r, closer: fh.Close}, nil
	}
	return nil, fmt.Errorf("arrowio: unknown format %q; use arrow, parquet or csv", f)
}

// openArrow reads an Arrow IPC stream, or the stream inside an IPC file.
// A file is "ARROW1", two bytes of padding, a stream (schema, batches,
// end-of-stream marker: every writer puts it there for sequential
// readers), then a footer indexing it. The footer is not read: it repeats
// the schema, and ipc.NewFileReader trusts it (a corrupt footer panics
// or claims allocations of any size), while StreamReader checks every
// message before Arrow parses it.
func openArrow(path string, mem memory.Allocator) (*Source, error) {
	fh, err := os.Open(path) // #nosec G304 -- a file the caller names (the CLI's operator)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 8) // the magic and its padding
	if _, err := io.ReadFull(fh, head); err != nil || !bytes.HasPrefix(head, []byte(arrowFileMagic)) {
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			_ = fh.Close()
			return nil, err
		}
	}
	r, err := NewStreamReader(bufio.NewReaderSize(fh, 1<<20), mem, DefaultMaxBatchBytes)
	if err != nil {
		_ = fh.Close()
		return nil, fmt.Errorf("arrowio: %s is not a readable Arrow IPC stream or file: %w", path, err)
	}
	return &Source{RecordReader: r, Format: FormatArrow, Rows: -1, closer: fh.Close}, nil
}

// arrowFileMagic starts an Arrow IPC file; padding to 8 bytes and the
// stream follow.
const arrowFileMagic = "ARROW1"

func countLines(path string) (int64, error) {
	fh, err := os.Open(path) // #nosec G304 -- a file the caller names (the CLI's operator)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	buf := make([]byte, 1<<20)
	var n int64
	last := byte('\n')
	for {
		k, err := fh.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if k > 0 {
			last = buf[k-1] // #nosec G602 -- k > 0 and k <= len(buf) per io.Reader
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}
