package arrowio

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/featurevault/featurevault/store"
)

// KeyReader reads an entity-key column of a point-in-time join's entity
// rows. Build it once per schema with NewKeyReader.
type KeyReader struct {
	of func(arrow.Array) func(int) (string, string)
}

// NewKeyReader returns a reader of column col for entity e's keys: utf8 or
// large_utf8, or (int64 keys) any integer type. It fails, saying what type
// to use, for anything else.
func NewKeyReader(col arrow.Field, e store.Entity) (*KeyReader, error) {
	of := keyConverter(col.Type, e.KeyType)
	if of == nil {
		return nil, fmt.Errorf("arrowio: column %q (the %s key) is %s; use %s", col.Name, e.Name, col.Type, KeyType(e.KeyType))
	}
	return &KeyReader{of: of}, nil
}

// Read appends the keys of a to keys and reports which are present: a
// null key, or an integer key out of range, is not (its key is "").
func (k *KeyReader) Read(a arrow.Array, keys []string, ok []bool) ([]string, []bool) {
	at := k.of(a)
	for i := range a.Len() {
		key, problem := at(i)
		keys = append(keys, key)
		ok = append(ok, problem == "")
	}
	return keys, ok
}

// TimeReader reads the timestamp column of entity rows.
type TimeReader struct {
	of func(arrow.Array) func(int) (time.Time, bool)
}

// NewTimeReader returns a reader of column col: a timestamp (any unit; no
// zone means UTC), date32 or date64.
func NewTimeReader(col arrow.Field) (*TimeReader, error) {
	of := timeConverter(col.Type)
	if of == nil {
		return nil, fmt.Errorf("arrowio: column %q is %s; use a timestamp (any unit; without a time zone it is read as UTC)", col.Name, col.Type)
	}
	return &TimeReader{of: of}, nil
}

// Read appends the times of a to times and reports which are present.
func (r *TimeReader) Read(a arrow.Array, times []time.Time, ok []bool) ([]time.Time, []bool) {
	at := r.of(a)
	for i := range a.Len() {
		t, present := at(i)
		times = append(times, t)
		ok = append(ok, present)
	}
	return times, ok
}
