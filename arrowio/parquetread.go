package arrowio

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// arrow-go's Parquet reader trusts the file it reads: a corrupt page
// header makes it dereference nil, and sizes in the file are allocated as
// claimed. openParquet therefore guards every call into it: a panic
// becomes an error naming the file, and the reader's allocations go
// through a boundedAllocator of parquetMemoryLimit. The Arrow schema a
// writer may store in the file's metadata is an IPC message, read by
// arrow-go's IPC reader without a check; it is verified first
// (checkStoredSchema), as every IPC message this package reads is.

// parquetMemoryLimit is the most memory the Parquet reader may hold while
// reading a file of size bytes: the column chunks it buffers are at most
// the file, and pages decompress to at most a generous multiple of it,
// plus room for the batches it builds.
func parquetMemoryLimit(size int64) int64 {
	return DefaultMaxBatchBytes + 64*size
}

func openParquet(ctx context.Context, path string, mem memory.Allocator, batchRows int) (src *Source, err error) {
	var pf *file.Reader
	defer func() {
		if p := recover(); p != nil {
			if pf != nil {
				_ = pf.Close()
			}
			src, err = nil, corruptParquet(path, p)
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	limit := parquetMemoryLimit(fi.Size())
	alloc := &boundedAllocator{mem: mem, limit: limit,
		over: fmt.Errorf("arrowio: reading %s needs more than %d bytes of memory; the file is corrupt, or write it with smaller pages", path, limit)}
	pf, err = file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(alloc)))
	if err != nil {
		return nil, fmt.Errorf("arrowio: %s is not a readable Parquet file: %w", path, err)
	}
	if err := checkStoredSchema(pf.MetaData().KeyValueMetadata()); err != nil {
		_ = pf.Close()
		return nil, fmt.Errorf("arrowio: %s is not a valid Parquet file: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batchRows)}, alloc)
	if err != nil {
		_ = pf.Close()
		return nil, fmt.Errorf("arrowio: read the schema of %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		_ = pf.Close()
		return nil, fmt.Errorf("arrowio: read %s: %w", path, err)
	}
	return &Source{RecordReader: &guardedRecords{r: rr, path: path}, Format: FormatParquet, Rows: pf.NumRows(), closer: pf.Close}, nil
}

// arrowSchemaKey is the file metadata key under which Arrow writers
// (pyarrow, arrow-go's pqarrow) store the Arrow schema of a Parquet file:
// an IPC schema message, base64-encoded.
const arrowSchemaKey = "ARROW:schema"

// checkStoredSchema verifies the IPC message of the Arrow schema stored in
// meta, if any, decoded as pqarrow decodes it (padded base64, else
// unpadded), before pqarrow hands it to arrow-go's IPC reader, which would
// allocate whatever field count a corrupt flatbuffer claims ("fatal error:
// runtime: out of memory", which no recover catches). A value that is not
// base64 is left to pqarrow, which refuses it.
func checkStoredSchema(meta metadata.KeyValueMetadata) error {
	serialized := meta.FindValue(arrowSchemaKey)
	if serialized == nil {
		return nil
	}
	var decoded []byte
	var err error
	if len(*serialized)%4 == 0 {
		decoded, err = base64.StdEncoding.DecodeString(*serialized)
	}
	if len(decoded) == 0 || err != nil {
		if decoded, err = base64.RawStdEncoding.DecodeString(*serialized); err != nil {
			return nil
		}
	}
	mr := newMessageReader(bytes.NewReader(decoded), 0) // a schema message has no body
	defer mr.Release()
	if _, err := mr.Message(); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("the Arrow schema stored in its metadata (%s) is corrupt: %w", arrowSchemaKey, err)
	}
	return nil
}

// corruptParquet is the error of a panic in the Parquet reader.
// The memory limit's error already names the file.
func corruptParquet(path string, p any) error {
	err, ok := p.(error)
	switch {
	case ok && strings.HasPrefix(err.Error(), "arrowio: "):
		return err
	case ok:
		return fmt.Errorf("arrowio: %s is not a valid Parquet file: %w", path, err)
	}
	return fmt.Errorf("arrowio: %s is not a valid Parquet file: %v", path, p)
}

// guardedRecords is a RecordReader whose Next turns a panic of the reader
// it wraps into its error.
type guardedRecords struct {
	r    array.RecordReader
	path string
	err  error
}

func (g *guardedRecords) Next() (ok bool) {
	if g.err != nil {
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			g.err, ok = corruptParquet(g.path, p), false
		}
	}()
	return g.r.Next()
}

func (g *guardedRecords) Err() error {
	if g.err != nil {
		return g.err
	}
	return g.r.Err()
}

func (g *guardedRecords) Schema() *arrow.Schema { return g.r.Schema() }

func (g *guardedRecords) RecordBatch() arrow.RecordBatch {
	if g.err != nil {
		return nil
	}
	return g.r.RecordBatch()
}

// Record returns the current record batch.
//
// Deprecated: use RecordBatch; Record is here for array.RecordReader.
func (g *guardedRecords) Record() arrow.RecordBatch { return g.RecordBatch() }
func (g *guardedRecords) Retain()                   { g.r.Retain() }
func (g *guardedRecords) Release()                  { g.r.Release() }
