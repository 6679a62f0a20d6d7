package arrowio

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// RecordWriter writes record batches of one schema to a file.
type RecordWriter interface {
	Write(arrow.RecordBatch) error
	Close() error
}

// ParquetRowGroupRows is the largest row group export writes.
const ParquetRowGroupRows = 64 * 1024

// NewFileWriter returns a writer of record batches of schema to w in
// format f: an Arrow IPC file (Feather v2, readable by
// pyarrow.feather.read_table and pyarrow.ipc.open_file), or Parquet
// (Snappy-compressed, format 2.6 so nanosecond timestamps survive, with the
// Arrow schema stored so readers get the same types and metadata back).
// Close finishes the file but does not close w (the Parquet writer would:
// it only sees w without its Close method).
func NewFileWriter(w io.Writer, f Format, schema *arrow.Schema, mem memory.Allocator) (RecordWriter, error) {
	switch f {
	case FormatArrow:
		fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("arrowio: start Arrow file: %w", err)
		}
		return fw, nil
	case FormatParquet:
		props := parquet.NewWriterProperties(
			parquet.WithAllocator(mem),
			parquet.WithCompression(compress.Codecs.Snappy),
			parquet.WithVersion(parquet.V2_LATEST),
			parquet.WithMaxRowGroupLength(ParquetRowGroupRows),
		)
		pw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(mem)))
		if err != nil {
			return nil, fmt.Errorf("arrowio: start Parquet file: %w", err)
		}
		return &parquetWriter{pw}, nil
	}
	return nil, fmt.Errorf("arrowio: cannot write format %q; use arrow or parquet", f)
}

// parquetWriter buffers batches into row groups of ParquetRowGroupRows.
type parquetWriter struct{ w *pqarrow.FileWriter }

func (p *parquetWriter) Write(rec arrow.RecordBatch) error { return p.w.WriteBuffered(rec) }
func (p *parquetWriter) Close() error                      { return p.w.Close() }
