package client

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func int64Record(t *testing.T, mem memory.Allocator, n int) arrow.RecordBatch {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	return b.NewRecordBatch()
}

func TestSplitRecordCutsByRowsAndHalvesWhatIsTooBig(t *testing.T) {
	t.Parallel()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := int64Record(t, mem, 10)
	defer rec.Release()
	var sizes []int64
	err := splitRecord(rec, 4, func(part arrow.RecordBatch) error {
		if part.NumRows() > 2 && part.Column(0).(*array.Int64).Value(0) >= 8 {
			return errTooBig // pretend rows 8.. are wide
		}
		sizes = append(sizes, part.NumRows())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{4, 4, 2}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("parts of %v rows, want %v", sizes, want)
	}
	boom := errors.New("boom")
	if err := splitRecord(rec, 4, func(arrow.RecordBatch) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want it to wrap the send error", err)
	}
}

func TestEntityChunksCoverEveryRowInOrder(t *testing.T) {
	t.Parallel()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a, b := int64Record(t, mem, 5), int64Record(t, mem, 3)
	rdr, err := array.NewRecordReader(a.Schema(), []arrow.RecordBatch{a, b})
	a.Release()
	b.Release()
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	chunks := &entityChunks{in: rdr, rows: 2}
	defer chunks.release()
	var sizes []int64
	var values []int64
	for {
		body, ok, err := chunks.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		r, err := ipc.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			rec := r.RecordBatch()
			sizes = append(sizes, rec.NumRows())
			values = append(values, rec.Column(0).(*array.Int64).Int64Values()...)
		}
		r.Release()
	}
	if want := []int64{2, 2, 1, 2, 1}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("chunks of %v rows, want %v", sizes, want)
	}
	if want := []int64{0, 1, 2, 3, 4, 0, 1, 2}; !reflect.DeepEqual(values, want) {
		t.Errorf("values %v, want %v", values, want)
	}
}
