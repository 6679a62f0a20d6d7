package store

import "time"

// Row is one observation of an entity written to a view.
//
// Values maps field names to Go values of the field's type: bool, int64,
// float64, string, []byte, time.Time or []float32; nil is NULL. Fields left
// out are NULL.
type Row struct {
	EntityKey string
	EventTime time.Time // zero: the time of the write
	Values    map[string]any
}

// Status says why a value is, or is not, in an online result.
type Status int

// The statuses of an online value.
const (
	Present Status = iota + 1
	Null
	NotFound
	Expired
	Denied
)

func (s Status) String() string {
	switch s {
	case Present:
		return "PRESENT"
	case Null:
		return "NULL"
	case NotFound:
		return "NOT_FOUND"
	case Expired:
		return "EXPIRED"
	case Denied:
		return "DENIED"
	}
	return "UNKNOWN"
}

// OnlineRow is the latest row of one requested entity.
type OnlineRow struct {
	EntityKey string
	EventTime time.Time // zero when NotFound
	Values    []any     // one per feature, nil unless Present
	Statuses  []Status  // one per feature
}

// OnlineResult answers GetOnline: one row per requested key, in order.
type OnlineResult struct {
	Features []string
	Rows     []OnlineRow
}

// WriteResult counts what Write stored.
type WriteResult struct {
	Rows   int
	Values int
}
