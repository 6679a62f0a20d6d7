package flightsrv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// EntityRows is a small label table inside a join command, column by
// column, for clients that can only DoGet:
//
//	"entity_rows": {"customer_id": ["c-1", "c-2"],
//	                "event_timestamp": ["2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"],
//	                "label": [1, 0]}
//
// Columns keep their order. The timestamp column holds RFC 3339 strings;
// any other column is strings, whole numbers (int64), numbers (float64) or
// booleans, with null allowed. Larger label tables go through DoExchange.
type EntityRows struct {
	names []string
	cols  [][]any
}

// UnmarshalJSON reads the columns in order.
func (e *EntityRows) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("entity_rows must be an object of columns, e.g. {\"customer_id\": [\"c-1\"], \"event_timestamp\": [\"2026-01-02T00:00:00Z\"]}")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var col []any
		if err := dec.Decode(&col); err != nil {
			return fmt.Errorf("entity_rows column %q must be an array: %w", name, err)
		}
		if len(e.cols) > 0 && len(col) != len(e.cols[0]) {
			return fmt.Errorf("entity_rows column %q has %d values, column %q %d: columns must be as long as each other", name, len(col), e.names[0], len(e.cols[0]))
		}
		e.names = append(e.names, name)
		e.cols = append(e.cols, col)
	}
	_, err := dec.Token()
	return err
}

// MarshalJSON writes the columns in order.
func (e EntityRows) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range e.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		v, err := json.Marshal(e.cols[i])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// record builds the label table as one record batch, tsName being its
// timestamp column. The caller releases it.
func (e *EntityRows) record(tsName string) (arrow.RecordBatch, error) {
	if len(e.names) == 0 {
		return nil, fmt.Errorf("entity_rows has no column; give the entity key and %q columns", tsName)
	}
	mem := memory.DefaultAllocator
	fields := make([]arrow.Field, len(e.names))
	arrs := make([]arrow.Array, len(e.names))
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i, name := range e.names {
		a, err := jsonColumn(mem, name, e.cols[i], name == tsName)
		if err != nil {
			return nil, err
		}
		arrs[i] = a
		fields[i] = arrow.Field{Name: name, Type: a.DataType(), Nullable: true}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(e.cols[0]))), nil
}

// ipcStream encodes the label table as an Arrow IPC stream (schema, one
// record batch, end of stream).
func (e *EntityRows) ipcStream(tsName string) ([]byte, error) {
	rec, err := e.record(tsName)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	var b bytes.Buffer
	w := ipc.NewWriter(&b, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(memory.DefaultAllocator))
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// jsonColumn builds one column of JSON values, typed by its values.
func jsonColumn(mem memory.Allocator, name string, vals []any, isTime bool) (arrow.Array, error) {
	kind := ""
	for _, v := range vals {
		var k string
		switch x := v.(type) {
		case nil:
			continue
		case string:
			k = "string"
		case bool:
			k = "bool"
		case json.Number:
			k = "int"
			if strings.ContainsAny(x.String(), ".eE") {
				k = "float"
			}
		default:
			return nil, fmt.Errorf("entity_rows column %q holds a %T; use strings, numbers or booleans", name, v)
		}
		switch {
		case kind == "" || kind == k:
			kind = k
		case (kind == "int" && k == "float") || (kind == "float" && k == "int"):
			kind = "float"
		default:
			return nil, fmt.Errorf("entity_rows column %q mixes %s and %s values", name, kind, k)
		}
	}
	if isTime && kind != "string" && kind != "" {
		return nil, fmt.Errorf("entity_rows column %q is the timestamp column: give RFC 3339 strings like 2026-01-02T00:00:00Z", name)
	}
	var b array.Builder
	switch {
	case isTime:
		b = array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	case kind == "bool":
		b = array.NewBooleanBuilder(mem)
	case kind == "int":
		b = array.NewInt64Builder(mem)
	case kind == "float":
		b = array.NewFloat64Builder(mem)
	default:
		b = array.NewStringBuilder(mem)
	}
	defer b.Release()
	for i, v := range vals {
		if v == nil {
			b.AppendNull()
			continue
		}
		switch bb := b.(type) {
		case *array.TimestampBuilder:
			t, err := time.Parse(time.RFC3339Nano, v.(string))
			if err != nil {
				return nil, fmt.Errorf("entity_rows column %q row %d is not an RFC 3339 time; write it like 2026-01-02T00:00:00Z", name, i)
			}
			bb.Append(arrow.Timestamp(t.UnixMicro()))
		case *array.BooleanBuilder:
			bb.Append(v.(bool))
		case *array.Int64Builder:
			n, err := v.(json.Number).Int64()
			if err != nil {
				return nil, fmt.Errorf("entity_rows column %q row %d is not a 64-bit integer", name, i)
			}
			bb.Append(n)
		case *array.Float64Builder:
			f, err := v.(json.Number).Float64()
			if err != nil {
				return nil, fmt.Errorf("entity_rows column %q row %d is not a number", name, i)
			}
			bb.Append(f)
		case *array.StringBuilder:
			bb.Append(v.(string))
		}
	}
	return b.NewArray(), nil
}
