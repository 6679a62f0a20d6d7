package flightsrv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/apache/arrow-go/v18/arrow/flight"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// Command is what a ticket or a CMD flight descriptor asks for: a JSON
// object, one of three shapes, told apart by its keys.
//
// Read a view (GetFlightInfo, GetSchema, DoGet), as ReadBatches does:
//
//	{"view": "customer_profile", "features": ["age", "income"],
//	 "start_time": "2026-01-01T00:00:00Z", "end_time": "2026-02-01T00:00:00Z",
//	 "as_of": "...", "created_cutoff": "...", "batch_rows": 4096}
//
// Only "view" is required; times are RFC 3339; "as_of" answers the latest
// row of each entity at that time (it excludes "end_time").
//
// A point-in-time join, as GetHistoricalFeatures does: with DoExchange,
// the client writes the label table; with GetFlightInfo, GetSchema and
// DoGet, a small label table travels in the command (entity_rows, see
// EntityRows; the command may be up to 1 MiB):
//
//	{"join": ["customer_profile:income", "orders:*"],
//	 "timestamp_column": "event_timestamp", "created_cutoff": "...",
//	 "full_feature_names": false,
//	 "entity_rows": {"customer_id": ["c-1"], "event_timestamp": ["2026-01-02T00:00:00Z"]}}
//
// Ingest (DoPut), as IngestArrow does:
//
//	{"ingest": "customer_profile", "validate_only": false}
//
// A PATH descriptor of one element, the view's name, reads the whole
// view (GetFlightInfo, GetSchema) or ingests into it (DoPut). Unknown
// keys are refused, so a misspelt option is never silently ignored.
type Command struct {
	View          string   `json:"view,omitempty"`
	Features      []string `json:"features,omitempty"`
	StartTime     string   `json:"start_time,omitempty"`
	EndTime       string   `json:"end_time,omitempty"`
	AsOf          string   `json:"as_of,omitempty"`
	CreatedCutoff string   `json:"created_cutoff,omitempty"`
	BatchRows     int32    `json:"batch_rows,omitempty"`

	Join             []string    `json:"join,omitempty"`
	TimestampColumn  string      `json:"timestamp_column,omitempty"`
	FullFeatureNames bool        `json:"full_feature_names,omitempty"`
	EntityRows       *EntityRows `json:"entity_rows,omitempty"`

	Ingest       string `json:"ingest,omitempty"`
	ValidateOnly bool   `json:"validate_only,omitempty"`
}

// commandKind is what a command asks for.
type commandKind int

const (
	kindRead commandKind = iota + 1
	kindJoin
	kindIngest
)

func (k commandKind) String() string {
	switch k {
	case kindRead:
		return `a view read ({"view": ...})`
	case kindJoin:
		return `a point-in-time join ({"join": [...]})`
	case kindIngest:
		return `an ingest ({"ingest": ...})`
	}
	return "nothing"
}

// maxCommandBytes bounds a ticket or descriptor command.
const maxCommandBytes = 1 << 20

// parseCommand decodes a ticket or descriptor command and checks it is
// of kind want: a join where a view read is wanted must carry its label
// table (entity_rows), and one where a join is wanted (DoExchange) must
// not. Errors are InvalidArgument statuses that say what to fix.
func parseCommand(b []byte, want commandKind, where string) (*Command, error) {
	if len(b) == 0 {
		return nil, invalidArg("the %s is empty; send a JSON command such as {\"view\": \"customer_profile\"}", where)
	}
	if len(b) > maxCommandBytes {
		return nil, invalidArg("the %s is %d bytes, more than the %d a command may have", where, len(b), maxCommandBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Command
	if err := dec.Decode(&c); err != nil {
		return nil, invalidArg("the %s is not a FeatureVault JSON command (%v); send e.g. {\"view\": \"customer_profile\"}", where, err)
	}
	if dec.More() {
		return nil, invalidArg("the %s has data after its JSON command; send one JSON object", where)
	}
	kinds := 0
	var got commandKind
	if c.View != "" {
		kinds, got = kinds+1, kindRead
	}
	if len(c.Join) > 0 {
		kinds, got = kinds+1, kindJoin
	}
	if c.Ingest != "" {
		kinds, got = kinds+1, kindIngest
	}
	if kinds != 1 {
		return nil, invalidArg("the %s must have exactly one of \"view\", \"join\" or \"ingest\"", where)
	}
	switch {
	case got == kindJoin && want == kindRead && c.EntityRows == nil:
		return nil, invalidArg("the %s is a point-in-time join without entity_rows: put a small label table in the command (\"entity_rows\": {\"customer_id\": [...], \"event_timestamp\": [...]}) or send the labels with DoExchange", where)
	case got == kindJoin && want == kindJoin && c.EntityRows != nil:
		return nil, invalidArg("the %s of a DoExchange join has entity_rows: write the label table to the stream instead", where)
	case got != want && !(got == kindJoin && want == kindRead):
		return nil, invalidArg("the %s is %s, but this call takes %s", where, got, want)
	}
	readOnly := c.Features != nil || c.StartTime != "" || c.EndTime != "" || c.AsOf != "" || c.BatchRows != 0
	joinOnly := c.TimestampColumn != "" || c.FullFeatureNames || c.EntityRows != nil
	switch {
	case got != kindRead && readOnly:
		return nil, invalidArg("the %s is %s: features, start_time, end_time, as_of and batch_rows belong to a view read", where, got)
	case got != kindJoin && joinOnly:
		return nil, invalidArg("the %s is %s: timestamp_column, full_feature_names and entity_rows belong to a join", where, got)
	case got != kindIngest && c.ValidateOnly:
		return nil, invalidArg("the %s is %s: validate_only belongs to an ingest", where, got)
	case got == kindIngest && c.CreatedCutoff != "":
		return nil, invalidArg("the %s is an ingest: created_cutoff belongs to reads", where)
	}
	for name, v := range map[string]string{"start_time": c.StartTime, "end_time": c.EndTime, "as_of": c.AsOf, "created_cutoff": c.CreatedCutoff} {
		if _, err := parseTime(name, v); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// descriptorCommand reads a flight descriptor: a CMD holds a JSON
// command; a PATH of one element names a view, read whole (kindRead) or
// ingested into (kindIngest).
func descriptorCommand(d *flight.FlightDescriptor, want commandKind) (*Command, error) {
	if d == nil {
		return nil, invalidArg("the call has no flight descriptor; send a CMD descriptor with a JSON command")
	}
	switch d.Type {
	case flight.DescriptorCMD:
		return parseCommand(d.Cmd, want, "descriptor command")
	case flight.DescriptorPATH:
		if len(d.Path) != 1 || d.Path[0] == "" {
			return nil, invalidArg("a PATH descriptor names one view, e.g. [\"customer_profile\"]; got %d elements", len(d.Path))
		}
		switch want {
		case kindRead:
			return &Command{View: d.Path[0]}, nil
		case kindIngest:
			return &Command{Ingest: d.Path[0]}, nil
		}
		return nil, invalidArg("a point-in-time join needs a CMD descriptor: {\"join\": [\"view:field\", ...]}")
	}
	return nil, invalidArg("the flight descriptor has no type; use CMD with a JSON command or PATH with a view name")
}

// readRequest is the ReadBatches request of a view read.
func (c *Command) readRequest() *fvv1.ReadBatchesRequest {
	return &fvv1.ReadBatchesRequest{
		View: c.View, Features: c.Features, BatchRows: c.BatchRows,
		StartTime: mustTime(c.StartTime), EndTime: mustTime(c.EndTime),
		AsOf: mustTime(c.AsOf), CreatedCutoff: mustTime(c.CreatedCutoff),
	}
}

// timestampColumn is the join's label timestamp column.
func (c *Command) timestampColumn() string {
	if c.TimestampColumn != "" {
		return c.TimestampColumn
	}
	return "event_timestamp"
}

// joinRequest is the GetHistoricalFeatures request of a join, without
// its entity rows.
func (c *Command) joinRequest() *fvv1.GetHistoricalFeaturesRequest {
	return &fvv1.GetHistoricalFeaturesRequest{
		Features: c.Join, TimestampColumn: c.TimestampColumn,
		FullFeatureNames: c.FullFeatureNames, CreatedCutoff: mustTime(c.CreatedCutoff),
	}
}

// ticket encodes the command as a ticket.
func (c *Command) ticket() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // a struct of strings and numbers always encodes
	}
	return b
}

func parseTime(name, v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, invalidArg("%s %q is not an RFC 3339 time; write it like 2026-11-01T00:00:00Z", name, v)
	}
	return timestamppb.New(t), nil
}

// mustTime converts a time parseCommand has checked.
func mustTime(v string) *timestamppb.Timestamp {
	ts, _ := parseTime("", v)
	return ts
}

func invalidArg(format string, a ...any) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf(format, a...))
}
