package arrowio

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/store"
)

// CSVProblem is a cell of a CSV file that does not parse as its column's
// type. It names the row, line and column, never the cell's content.
type CSVProblem struct {
	Row    int64 // 0-based data row (the header is not a row)
	Line   int   // 1-based line in the file
	Column string
	Reason string
}

// CSVReader reads a CSV file with a header line into record batches of a
// view's table schema (see the package documentation): the header names
// the columns, in any order and any subset of the view's fields, plus the
// join key and event_timestamp. Cells are written as:
//
//	empty cell       NULL
//	bool             true or false (also 1, 0, t, f)
//	int64            a decimal integer
//	float64          a decimal number; NaN and Inf are read (the view may refuse them)
//	string           the text
//	bytes            standard base64
//	timestamp and event_timestamp
//	                 RFC 3339 (2026-11-01T00:00:00Z), or without a zone
//	                 (2026-11-01 00:00:00, read as UTC), or a date (2026-11-01)
//	list<float32>    a JSON array of numbers: [0.25, -1.5, 3]
//
// A cell that does not parse is read as NULL and recorded as a CSVProblem
// (Problems), so one pass reports every bad cell; a caller must not write
// the rows of a file with problems. A header that does not fit the view
// fails NewCSVReader with a *SchemaError.
type CSVReader struct {
	r        *csv.Reader
	schema   *arrow.Schema
	b        *array.RecordBuilder
	parse    []func(string) error // per column; appends to its builder
	names    []string
	rows     int
	cur      arrow.RecordBatch
	row      int64
	problems []CSVProblem
	maxProbs int
	moreProb int
	err      error
	refs     atomic.Int64
}

// NewCSVReader reads the header of r and returns a reader of batches of at
// most batchRows rows (default 4096), built in mem.
func NewCSVReader(r io.Reader, v store.View, e store.Entity, mem memory.Allocator, batchRows int) (*CSVReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, errors.New("arrowio: the CSV file is empty; it needs a header line naming the columns")
		}
		return nil, fmt.Errorf("arrowio: read the CSV header: %w", err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // a byte-order mark
	}
	cols := make([]arrow.Field, len(header))
	var problems []string
	for i, name := range header {
		switch {
		case name == e.JoinKey:
			cols[i] = arrow.Field{Name: name, Type: KeyType(e.KeyType)}
		case name == EventTimeColumn:
			cols[i] = arrow.Field{Name: name, Type: timestampNS}
		default:
			f, _, ok := v.Field(name)
			if !ok {
				problems = append(problems, fmt.Sprintf("column %q is not a field of view %q; drop the column, or add the field to the view's spec and apply it", name, v.Name))
				cols[i] = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
				continue
			}
			cols[i] = FieldColumn(f)
		}
	}
	if len(problems) > 0 {
		return nil, &SchemaError{View: v.Name, Problems: problems}
	}
	if batchRows <= 0 {
		batchRows = store.DefaultBatchRows
	}
	schema := arrow.NewSchema(cols, nil)
	c := &CSVReader{r: cr, schema: schema, b: array.NewRecordBuilder(mem, schema), names: header, rows: batchRows, maxProbs: store.DefaultMaxRefusals}
	c.refs.Add(1)
	c.parse = make([]func(string) error, len(cols))
	for i, col := range cols {
		c.parse[i] = cellParser(c.b.Field(i), col.Type)
	}
	return c, nil
}

// Schema implements array.RecordReader.
func (c *CSVReader) Schema() *arrow.Schema { return c.schema }

// Next implements array.RecordReader.
func (c *CSVReader) Next() bool {
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
	if c.err != nil {
		return false
	}
	n := 0
	for n < c.rows {
		rec, err := c.r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.err = fmt.Errorf("arrowio: CSV data row %d: %w", c.row, err)
			break
		}
		for i, cell := range rec {
			if err := c.parse[i](cell); err != nil {
				line, _ := c.r.FieldPos(i)
				c.problem(CSVProblem{Row: c.row, Line: line, Column: c.names[i], Reason: err.Error()})
			}
		}
		c.row++
		n++
	}
	if n == 0 {
		c.b.NewRecordBatch().Release()
		return false
	}
	c.cur = c.b.NewRecordBatch()
	return true
}

func (c *CSVReader) problem(p CSVProblem) {
	if len(c.problems) < c.maxProbs {
		c.problems = append(c.problems, p)
	} else {
		c.moreProb++
	}
}

// RecordBatch implements array.RecordReader: the batch Next read, valid
// until the next call to Next.
func (c *CSVReader) RecordBatch() arrow.RecordBatch { return c.cur }

// Record implements array.RecordReader.
//
// Deprecated: use RecordBatch.
func (c *CSVReader) Record() arrow.RecordBatch { return c.cur }

// Err implements array.RecordReader: a CSV syntax error (unbalanced
// quotes, a row with the wrong number of cells). Cells that do not parse
// are Problems, not errors.
func (c *CSVReader) Err() error { return c.err }

// Problems returns the cells that did not parse (the first 100) and how
// many more there were.
func (c *CSVReader) Problems() ([]CSVProblem, int) { return c.problems, c.moreProb }

// Rows returns how many data rows have been read.
func (c *CSVReader) Rows() int64 { return c.row }

// Retain implements array.RecordReader.
func (c *CSVReader) Retain() { c.refs.Add(1) }

// Release implements array.RecordReader.
func (c *CSVReader) Release() {
	if c.refs.Add(-1) == 0 {
		if c.cur != nil {
			c.cur.Release()
			c.cur = nil
		}
		c.b.Release()
	}
}

var _ array.RecordReader = (*CSVReader)(nil)

// cellParser returns the function that parses a cell of type t and
// appends it to b (a null for an empty cell, or when it does not parse).
func cellParser(b array.Builder, t arrow.DataType) func(string) error {
	nullOr := func(parse func(string) error) func(string) error {
		return func(s string) error {
			if s == "" {
				b.AppendNull()
				return nil
			}
			if err := parse(s); err != nil {
				b.AppendNull()
				return err
			}
			return nil
		}
	}
	switch t.ID() {
	case arrow.BOOL:
		bb := b.(*array.BooleanBuilder)
		return nullOr(func(s string) error {
			v, err := strconv.ParseBool(s)
			if err != nil {
				return errors.New("not a bool; write true or false")
			}
			bb.Append(v)
			return nil
		})
	case arrow.INT64:
		ib := b.(*array.Int64Builder)
		return nullOr(func(s string) error {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return errors.New("not a decimal int64")
			}
			ib.Append(v)
			return nil
		})
	case arrow.FLOAT64:
		fb := b.(*array.Float64Builder)
		return nullOr(func(s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return errors.New("not a number")
			}
			fb.Append(v)
			return nil
		})
	case arrow.STRING:
		sb := b.(*array.StringBuilder)
		return nullOr(func(s string) error { sb.Append(s); return nil })
	case arrow.BINARY:
		bb := b.(*array.BinaryBuilder)
		return nullOr(func(s string) error {
			v, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return errors.New("not standard base64")
			}
			bb.Append(v)
			return nil
		})
	case arrow.TIMESTAMP:
		tb := b.(*array.TimestampBuilder)
		return nullOr(func(s string) error {
			v, err := parseCSVTime(s)
			if err != nil {
				return err
			}
			tb.Append(arrow.Timestamp(v.UnixNano()))
			return nil
		})
	case arrow.LIST:
		lb := b.(*array.ListBuilder)
		vb := lb.ValueBuilder().(*array.Float32Builder)
		return nullOr(func(s string) error {
			var xs []float32
			if err := json.Unmarshal([]byte(s), &xs); err != nil {
				return errors.New("not a JSON array of numbers such as [0.25, -1.5]")
			}
			lb.Append(true)
			vb.AppendValues(xs, nil)
			return nil
		})
	}
	panic(fmt.Sprintf("arrowio: no CSV parser for %s", t))
}

var csvTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseCSVTime reads the time forms CSVReader documents; a time without a
// zone is UTC.
func parseCSVTime(s string) (time.Time, error) {
	for _, layout := range csvTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Before(minNanoTime) || t.After(maxNanoTime) {
				return time.Time{}, errors.New("time outside 1677-09-21..2262-04-11")
			}
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a time; write RFC 3339 such as 2026-11-01T00:00:00Z")
}
