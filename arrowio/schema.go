package arrowio

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/featurevault/featurevault/store"
)

// EventTimeColumn is the name of the event-time column, as in Feast.
const EventTimeColumn = "event_timestamp"

// Metadata keys of the schemas this package builds.
const (
	MetaView          = "featurevault.view"
	MetaEntity        = "featurevault.entity"
	MetaSchemaVersion = "featurevault.schema_version"
	MetaTags          = "featurevault.tags"
	MetaFieldType     = "featurevault.type"
)

// timestampNS is the Arrow type of event times and timestamp fields.
var timestampNS = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}

// Type returns the Arrow type of a field type:
//
//	bool           bool
//	int64          int64
//	float64        float64 (double)
//	string         utf8
//	bytes          binary
//	timestamp      timestamp[ns, tz=UTC]
//	list<float32>  list<item: float32>
//
// Timestamps are nanoseconds, like event times and pandas; a timestamp
// value outside 1677-09-21..2262-04-11 cannot be exported (see
// AppendColumn).
func Type(t store.FieldType) arrow.DataType {
	switch t {
	case store.Bool:
		return arrow.FixedWidthTypes.Boolean
	case store.Int64:
		return arrow.PrimitiveTypes.Int64
	case store.Float64:
		return arrow.PrimitiveTypes.Float64
	case store.String:
		return arrow.BinaryTypes.String
	case store.Bytes:
		return arrow.BinaryTypes.Binary
	case store.Timestamp:
		return timestampNS
	case store.Float32List:
		return arrow.ListOf(arrow.PrimitiveTypes.Float32)
	}
	return nil
}

// KeyType returns the Arrow type of an entity's join key column.
func KeyType(t store.KeyType) arrow.DataType {
	if t == store.KeyInt64 {
		return arrow.PrimitiveTypes.Int64
	}
	return arrow.BinaryTypes.String
}

// FieldColumn returns the Arrow field of a view field: its name, type,
// nullability and tags.
func FieldColumn(f store.Field) arrow.Field {
	md := arrow.NewMetadata([]string{MetaFieldType, MetaTags}, []string{f.Type.String(), strings.Join(f.Tags, ",")})
	return arrow.Field{Name: f.Name, Type: Type(f.Type), Nullable: true, Metadata: md}
}

// Schema returns the table schema of view v (whose entity is e) with the
// given fields, in order; see the package documentation. It fails when a
// field is named like the key or event-time column.
func Schema(v store.View, e store.Entity, fields []store.Field) (*arrow.Schema, error) {
	cols := make([]arrow.Field, 0, 2+len(fields))
	cols = append(cols,
		arrow.Field{Name: e.JoinKey, Type: KeyType(e.KeyType)},
		arrow.Field{Name: EventTimeColumn, Type: timestampNS})
	for _, f := range fields {
		if f.Name == e.JoinKey || f.Name == EventTimeColumn {
			return nil, fmt.Errorf("arrowio: field %q of view %q has the name of the %s column; rename the field", f.Name, v.Name, f.Name)
		}
		cols = append(cols, FieldColumn(f))
	}
	md := arrow.NewMetadata(
		[]string{MetaView, MetaEntity, MetaSchemaVersion},
		[]string{v.Name, e.Name, strconv.FormatUint(uint64(v.SchemaVersion), 10)})
	return arrow.NewSchema(cols, &md), nil
}

// ViewSchema is Schema with every field of the view.
func ViewSchema(v store.View, e store.Entity) (*arrow.Schema, error) {
	return Schema(v, e, v.Fields)
}
