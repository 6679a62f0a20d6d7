package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// writeOnlineJSON prints one JSON object per entity and line, features in
// the response's order:
//
//	{"entity":"c-42","event_time":"2026-11-01T00:00:00Z","features":{"email":{"value":"a@example.com","status":"PRESENT"}}}
//
// event_time is null when the entity has no row. Values are written in
// the form put reads (see jsonrows.go), so output can be fed back in.
func writeOnlineJSON(w io.Writer, res *fvv1.GetOnlineFeaturesResponse) error {
	var b bytes.Buffer
	for _, row := range res.GetRows() {
		b.Reset()
		b.WriteString(`{"entity":`)
		appendJSON(&b, row.GetEntityKey())
		b.WriteString(`,"event_time":`)
		if row.GetEventTime() != nil {
			appendJSON(&b, formatTime(row.GetEventTime().AsTime()))
		} else {
			b.WriteString("null")
		}
		b.WriteString(`,"features":{`)
		for i, name := range res.GetFeatures() {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSON(&b, name)
			b.WriteString(`:{"value":`)
			appendJSON(&b, valueJSON(row.GetValues()[i]))
			b.WriteString(`,"status":`)
			appendJSON(&b, statusName(row.GetStatuses()[i]))
			b.WriteByte('}')
		}
		b.WriteString("}}\n")
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// appendJSON appends the JSON encoding of x, which is always encodable:
// valueJSON turns the values JSON cannot hold into strings. Unlike
// json.Marshal it leaves <, > and & as they are.
func appendJSON(b *bytes.Buffer, x any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		panic(fmt.Sprintf("featurevault: encode %T: %v", x, err))
	}
	b.Truncate(b.Len() - 1) // Encode ends each value with a newline
}

// valueJSON returns v as a Go value that encodes to the JSON form put
// reads; NULL (no kind) is nil.
func valueJSON(v *fvv1.Value) any {
	switch k := v.GetKind().(type) {
	case *fvv1.Value_BoolValue:
		return k.BoolValue
	case *fvv1.Value_Int64Value:
		return k.Int64Value
	case *fvv1.Value_Float64Value:
		return jsonFloatValue(k.Float64Value, 64)
	case *fvv1.Value_StringValue:
		return k.StringValue
	case *fvv1.Value_BytesValue:
		return base64.StdEncoding.EncodeToString(k.BytesValue)
	case *fvv1.Value_TimestampValue:
		return formatTime(k.TimestampValue.AsTime())
	case *fvv1.Value_FloatListValue:
		out := make([]any, len(k.FloatListValue.GetValues()))
		for i, f := range k.FloatListValue.GetValues() {
			out[i] = jsonFloatValue(float64(f), 32)
		}
		return out
	}
	return nil
}

// jsonFloatValue returns f for encoding/json, which writes the shortest
// number that reads back to the same float of bitSize bits (32 or 64), or
// the string "NaN", "Infinity" or "-Infinity", which JSON has no number for.
func jsonFloatValue(f float64, bitSize int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case bitSize == 32:
		return float32(f)
	}
	return f
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// statusName is the short name of a status ("PRESENT").
func statusName(s fvv1.FieldStatus) string {
	return strings.TrimPrefix(s.String(), "FIELD_STATUS_")
}

// maxCellRunes is the widest a table cell gets before it is cut with "…".
const maxCellRunes = 40

// writeOnlineTable prints aligned columns: the entity, the event time and
// one column per feature. A value that is not PRESENT shows its status in
// angle brackets (<NULL>, <NOT_FOUND>); long values are cut.
func writeOnlineTable(w io.Writer, res *fvv1.GetOnlineFeaturesResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := append([]string{"ENTITY", "EVENT_TIME"}, res.GetFeatures()...)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range res.GetRows() {
		cells := []string{tableCell(row.GetEntityKey()), "-"}
		if row.GetEventTime() != nil {
			cells[1] = formatTime(row.GetEventTime().AsTime())
		}
		for i := range res.GetFeatures() {
			if st := row.GetStatuses()[i]; st != fvv1.FieldStatus_FIELD_STATUS_PRESENT {
				cells = append(cells, "<"+statusName(st)+">")
				continue
			}
			cells = append(cells, tableCell(valueText(row.GetValues()[i])))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// valueText is the table form of a present value.
func valueText(v *fvv1.Value) string {
	switch x := valueJSON(v).(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case nil:
		return "<NULL>"
	default:
		return fmt.Sprint(x)
	}
}

// tableCell makes s safe for one aligned cell: control characters (tabs,
// newlines) are quoted away and long text is cut.
func tableCell(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		s = strconv.Quote(s)
	}
	if utf8.RuneCountInString(s) > maxCellRunes {
		s = string([]rune(s)[:maxCellRunes-1]) + "…"
	}
	return s
}
