package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// decodeJSON decodes one JSON value the way parseRow does (UseNumber).
func decodeJSON(t *testing.T, text string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		t.Fatalf("test input %s is not JSON: %v", text, err)
	}
	return x
}

func field(t fvv1.FieldType) *fvv1.Field { return &fvv1.Field{Name: "f", Type: t} }

func nanField(t fvv1.FieldType) *fvv1.Field { return &fvv1.Field{Name: "f", Type: t, AllowNan: true} }

func boolV(b bool) *fvv1.Value { return &fvv1.Value{Kind: &fvv1.Value_BoolValue{BoolValue: b}} }
func intV(i int64) *fvv1.Value { return &fvv1.Value{Kind: &fvv1.Value_Int64Value{Int64Value: i}} }
func floatV(f float64) *fvv1.Value {
	return &fvv1.Value{Kind: &fvv1.Value_Float64Value{Float64Value: f}}
}
func strV(s string) *fvv1.Value   { return &fvv1.Value{Kind: &fvv1.Value_StringValue{StringValue: s}} }
func bytesV(b []byte) *fvv1.Value { return &fvv1.Value{Kind: &fvv1.Value_BytesValue{BytesValue: b}} }
func timeV(t time.Time) *fvv1.Value {
	return &fvv1.Value{Kind: &fvv1.Value_TimestampValue{TimestampValue: timestamppb.New(t)}}
}
func listV(f ...float32) *fvv1.Value {
	return &fvv1.Value{Kind: &fvv1.Value_FloatListValue{FloatListValue: &fvv1.FloatList{Values: f}}}
}

func TestJSONValueConvertsEveryType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		field *fvv1.Field
		json  string
		want  *fvv1.Value
	}{
		{"bool true", field(fvv1.FieldType_FIELD_TYPE_BOOL), `true`, boolV(true)},
		{"bool false", field(fvv1.FieldType_FIELD_TYPE_BOOL), `false`, boolV(false)},
		{"int64", field(fvv1.FieldType_FIELD_TYPE_INT64), `41`, intV(41)},
		{"int64 negative", field(fvv1.FieldType_FIELD_TYPE_INT64), `-7`, intV(-7)},
		{"int64 max exact", field(fvv1.FieldType_FIELD_TYPE_INT64), `9223372036854775807`, intV(math.MaxInt64)},
		{"int64 min exact", field(fvv1.FieldType_FIELD_TYPE_INT64), `-9223372036854775808`, intV(math.MinInt64)},
		{"int64 integral fraction", field(fvv1.FieldType_FIELD_TYPE_INT64), `41.0`, intV(41)},
		{"int64 integral exponent", field(fvv1.FieldType_FIELD_TYPE_INT64), `4.1e1`, intV(41)},
		{"float64", field(fvv1.FieldType_FIELD_TYPE_FLOAT64), `52000.5`, floatV(52000.5)},
		{"float64 from integer", field(fvv1.FieldType_FIELD_TYPE_FLOAT64), `3`, floatV(3)},
		{"float64 exponent", field(fvv1.FieldType_FIELD_TYPE_FLOAT64), `-1.5e-3`, floatV(-0.0015)},
		{"float64 infinity when allowed", nanField(fvv1.FieldType_FIELD_TYPE_FLOAT64), `"-Infinity"`, floatV(math.Inf(-1))},
		{"string", field(fvv1.FieldType_FIELD_TYPE_STRING), `"a@example.com"`, strV("a@example.com")},
		{"string empty", field(fvv1.FieldType_FIELD_TYPE_STRING), `""`, strV("")},
		{"string unicode escape", field(fvv1.FieldType_FIELD_TYPE_STRING), `"caf\u00e9"`, strV("café")},
		{"bytes padded", field(fvv1.FieldType_FIELD_TYPE_BYTES), `"iVBORw0KGgo="`, bytesV([]byte("\x89PNG\r\n\x1a\n"))},
		{"bytes unpadded", field(fvv1.FieldType_FIELD_TYPE_BYTES), `"iVBORw0KGgo"`, bytesV([]byte("\x89PNG\r\n\x1a\n"))},
		{"bytes empty", field(fvv1.FieldType_FIELD_TYPE_BYTES), `""`, bytesV([]byte{})},
		{"timestamp UTC", field(fvv1.FieldType_FIELD_TYPE_TIMESTAMP), `"2021-06-15T09:30:00Z"`, timeV(time.Date(2021, 6, 15, 9, 30, 0, 0, time.UTC))},
		{"timestamp offset and fraction", field(fvv1.FieldType_FIELD_TYPE_TIMESTAMP), `"2021-06-15T11:30:00.25+02:00"`, timeV(time.Date(2021, 6, 15, 9, 30, 0, 250e6, time.UTC))},
		{"list<float32>", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `[0.25, -0.5, 1, 3e2]`, listV(0.25, -0.5, 1, 300)},
		{"list<float32> rounds to float32", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `[0.1]`, listV(0.1)},
		{"list<float32> empty", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `[]`, listV()},
		{"null is NULL for bool", field(fvv1.FieldType_FIELD_TYPE_BOOL), `null`, &fvv1.Value{}},
		{"null is NULL for bytes", field(fvv1.FieldType_FIELD_TYPE_BYTES), `null`, &fvv1.Value{}},
		{"null is NULL for list", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `null`, &fvv1.Value{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsonValue(tt.field, decodeJSON(t, tt.json))
			if err != nil {
				t.Fatalf("jsonValue(%s, %s): %v", tt.field.GetType(), tt.json, err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("jsonValue(%s, %s) = %v, want %v", tt.field.GetType(), tt.json, got, tt.want)
			}
		})
	}
}

func TestJSONValueAcceptsNaNOnlyWhenTheFieldAllowsIt(t *testing.T) {
	t.Parallel()
	got, err := jsonValue(nanField(fvv1.FieldType_FIELD_TYPE_FLOAT64), "NaN")
	if err != nil || !math.IsNaN(got.GetFloat64Value()) {
		t.Errorf(`jsonValue(allow_nan float64, "NaN") = %v, %v; want NaN, nil`, got, err)
	}
	got, err = jsonValue(nanField(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), []any{"NaN", json.Number("1")})
	if err != nil || len(got.GetFloatListValue().GetValues()) != 2 || !math.IsNaN(float64(got.GetFloatListValue().GetValues()[0])) {
		t.Errorf(`jsonValue(allow_nan list, ["NaN", 1]) = %v, %v; want [NaN 1], nil`, got, err)
	}
	if got, err := jsonValue(field(fvv1.FieldType_FIELD_TYPE_FLOAT64), "NaN"); err == nil {
		t.Errorf(`jsonValue(float64 without allow_nan, "NaN") = %v, want an error`, got)
	}
}

func TestJSONValueRefusesWhatTheTypeCannotHold(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		field   *fvv1.Field
		json    string
		wantErr string
	}{
		{"bool from number", field(fvv1.FieldType_FIELD_TYPE_BOOL), `1`, "expected true or false, got a number"},
		{"bool from string", field(fvv1.FieldType_FIELD_TYPE_BOOL), `"true"`, "expected true or false, got a string"},
		{"int64 non-integral", field(fvv1.FieldType_FIELD_TYPE_INT64), `41.5`, "not an integer"},
		{"int64 small fraction", field(fvv1.FieldType_FIELD_TYPE_INT64), `1e-3`, "not an integer"},
		{"int64 from string", field(fvv1.FieldType_FIELD_TYPE_INT64), `"41"`, "expected an integer, got a string"},
		{"int64 from bool", field(fvv1.FieldType_FIELD_TYPE_INT64), `true`, "expected an integer, got a boolean"},
		{"int64 overflow", field(fvv1.FieldType_FIELD_TYPE_INT64), `9223372036854775808`, "outside the int64 range"},
		{"int64 underflow", field(fvv1.FieldType_FIELD_TYPE_INT64), `-9223372036854775809`, "outside the int64 range"},
		{"int64 huge exponent", field(fvv1.FieldType_FIELD_TYPE_INT64), `1e400`, "outside the int64 range"},
		{"int64 inexact exponent", field(fvv1.FieldType_FIELD_TYPE_INT64), `1e18`, "too large to convert exactly"},
		{"float64 from string", field(fvv1.FieldType_FIELD_TYPE_FLOAT64), `"52000.5"`, "expected a number, got a string"},
		{"float64 NaN string refused", field(fvv1.FieldType_FIELD_TYPE_FLOAT64), `"NaN"`, "expected a number, got a string"},
		{"float64 other string when NaN allowed", nanField(fvv1.FieldType_FIELD_TYPE_FLOAT64), `"nan"`, `"NaN", "Infinity" or "-Infinity"`},
		{"float64 from bool", field(fvv1.FieldType_FIELD_TYPE_FLOAT64), `false`, "expected a number, got a boolean"},
		{"float64 overflow", field(fvv1.FieldType_FIELD_TYPE_FLOAT64), `1e309`, "outside the float64 range"},
		{"string from number", field(fvv1.FieldType_FIELD_TYPE_STRING), `42`, "expected a string, got a number"},
		{"string from object", field(fvv1.FieldType_FIELD_TYPE_STRING), `{"a":1}`, "expected a string, got an object"},
		{"bytes bad base64", field(fvv1.FieldType_FIELD_TYPE_BYTES), `"not base64!"`, "not valid base64"},
		{"bytes url alphabet", field(fvv1.FieldType_FIELD_TYPE_BYTES), `"_-8="`, "not valid base64"},
		{"bytes from array", field(fvv1.FieldType_FIELD_TYPE_BYTES), `[1,2]`, "expected a base64 string, got an array"},
		{"timestamp not RFC 3339", field(fvv1.FieldType_FIELD_TYPE_TIMESTAMP), `"2021-06-15 09:30:00"`, "not an RFC 3339 time"},
		{"timestamp date only", field(fvv1.FieldType_FIELD_TYPE_TIMESTAMP), `"2021-06-15"`, "not an RFC 3339 time"},
		{"timestamp bad month", field(fvv1.FieldType_FIELD_TYPE_TIMESTAMP), `"2021-13-15T09:30:00Z"`, "not an RFC 3339 time"},
		{"timestamp from number", field(fvv1.FieldType_FIELD_TYPE_TIMESTAMP), `1623749400`, "expected an RFC 3339 time string, got a number"},
		{"list from number", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `0.5`, "expected an array of numbers, got a number"},
		{"list with string", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `[0.5, "1"]`, "element 1: expected a number, got a string"},
		{"list with null", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `[null]`, "element 0: expected a number, got null"},
		{"list beyond float32", field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), `[1, 1e39]`, "element 1: number is outside the float32 range"},
		{"unknown type", field(fvv1.FieldType_FIELD_TYPE_UNSPECIFIED), `1`, "does not know the field type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsonValue(tt.field, decodeJSON(t, tt.json))
			if err == nil {
				t.Fatalf("jsonValue(%s, %s) = %v, want an error containing %q", tt.field.GetType(), tt.json, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("jsonValue(%s, %s) error = %q, want it to contain %q", tt.field.GetType(), tt.json, err, tt.wantErr)
			}
		})
	}
}

// testSchema is a view with one field of every type.
func testSchema(keyType fvv1.KeyType) *rowSchema {
	view := &fvv1.FeatureView{Name: "profile", Entity: "customer", Fields: []*fvv1.Field{
		{Name: "email", Type: fvv1.FieldType_FIELD_TYPE_STRING},
		{Name: "income", Type: fvv1.FieldType_FIELD_TYPE_FLOAT64},
		{Name: "age", Type: fvv1.FieldType_FIELD_TYPE_INT64},
		{Name: "embedding", Type: fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST},
		{Name: "is_active", Type: fvv1.FieldType_FIELD_TYPE_BOOL},
		{Name: "signup_time", Type: fvv1.FieldType_FIELD_TYPE_TIMESTAMP},
		{Name: "avatar", Type: fvv1.FieldType_FIELD_TYPE_BYTES},
	}}
	return newRowSchema(view, &fvv1.Entity{Name: "customer", KeyType: keyType})
}

func TestParseRowReadsTheDesignFormat(t *testing.T) {
	t.Parallel()
	line := `{"entity": "c-42", "event_time": "2026-11-01T00:00:00Z", "values": {"email": "a@example.com", "income": 52000.5, "age": 41, ` +
		`"embedding": [0.5, 2], "is_active": true, "signup_time": "2021-06-15T09:30:00Z", "avatar": "AAE="}}`
	got, err := testSchema(fvv1.KeyType_KEY_TYPE_STRING).parseRow([]byte(line))
	if err != nil {
		t.Fatalf("parseRow: %v", err)
	}
	want := &fvv1.Row{
		EntityKey: "c-42",
		EventTime: timestamppb.New(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)),
		Values: map[string]*fvv1.Value{
			"email": strV("a@example.com"), "income": floatV(52000.5), "age": intV(41),
			"embedding": listV(0.5, 2), "is_active": boolV(true),
			"signup_time": timeV(time.Date(2021, 6, 15, 9, 30, 0, 0, time.UTC)), "avatar": bytesV([]byte{0, 1}),
		},
	}
	if !proto.Equal(got, want) {
		t.Errorf("parseRow = %v\nwant %v", got, want)
	}
}

func TestParseRowEntityKeysAndOptionalParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		keyType fvv1.KeyType
		line    string
		want    *fvv1.Row
	}{
		{"string key, no event time, no values", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1"}`, &fvv1.Row{EntityKey: "c-1"}},
		{"null event time and values", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "event_time": null, "values": null}`, &fvv1.Row{EntityKey: "c-1"}},
		{"null value is sent as NULL", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "values": {"age": null}}`,
			&fvv1.Row{EntityKey: "c-1", Values: map[string]*fvv1.Value{"age": {}}}},
		{"int64 key from number", fvv1.KeyType_KEY_TYPE_INT64, `{"entity": 42}`, &fvv1.Row{EntityKey: "42"}},
		{"int64 key from string", fvv1.KeyType_KEY_TYPE_INT64, `{"entity": "-42"}`, &fvv1.Row{EntityKey: "-42"}},
		{"int64 key canonicalised", fvv1.KeyType_KEY_TYPE_INT64, `{"entity": "+0042"}`, &fvv1.Row{EntityKey: "42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := testSchema(tt.keyType).parseRow([]byte(tt.line))
			if err != nil {
				t.Fatalf("parseRow(%s): %v", tt.line, err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("parseRow(%s) = %v, want %v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseRowRefusesBadRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		keyType fvv1.KeyType
		line    string
		wantErr string
	}{
		{"not JSON", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1",}`, "not valid JSON at byte"},
		{"truncated", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1"`, "not valid JSON"},
		{"not an object", fvv1.KeyType_KEY_TYPE_STRING, `["c-1"]`, "a row is a JSON object, got an array"},
		{"two objects", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1"} {"entity": "c-2"}`, "more than one JSON value"},
		{"invalid UTF-8", fvv1.KeyType_KEY_TYPE_STRING, "{\"entity\": \"c-\xff\"}", "not valid UTF-8"},
		{"unknown key", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "valeus": {}}`, `unknown key "valeus"`},
		{"unknown field", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "values": {"emial": "x"}}`, `view profile has no field "emial"; its fields are email, income, age`},
		{"missing entity", fvv1.KeyType_KEY_TYPE_STRING, `{"values": {}}`, `"entity" is missing`},
		{"empty entity", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": ""}`, `"entity" is empty`},
		{"entity of wrong kind", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": true}`, `"entity" is a string or an integer, got a boolean`},
		{"number for string key", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": 42}`, "entity customer has string keys"},
		{"fraction for int64 key", fvv1.KeyType_KEY_TYPE_INT64, `{"entity": 4.5}`, `"entity": number is not an integer`},
		{"non-decimal string for int64 key", fvv1.KeyType_KEY_TYPE_INT64, `{"entity": "c-1"}`, "entity customer has int64 keys"},
		{"bad event time", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "event_time": "yesterday"}`, "event_time: not an RFC 3339 time"},
		{"numeric event time", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "event_time": 1700000000}`, "event_time: expected an RFC 3339 time string, got a number"},
		{"values not an object", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "values": [1]}`, `"values" is an object`},
		{"bad value names its field and type", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "values": {"age": 41.5}}`, `field "age" (int64): number is not an integer`},
		{"list type in message", fvv1.KeyType_KEY_TYPE_STRING, `{"entity": "c-1", "values": {"embedding": "0.5"}}`, `field "embedding" (list<float32>): expected an array of numbers, got a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := testSchema(tt.keyType).parseRow([]byte(tt.line))
			if err == nil {
				t.Fatalf("parseRow(%s) = %v, want an error containing %q", tt.line, got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseRow(%s) error = %q, want it to contain %q", tt.line, err, tt.wantErr)
			}
		})
	}
}

func TestParseRowErrorsNeverRepeatTheValueOrKey(t *testing.T) {
	t.Parallel()
	const secret = "secret-marker-7731"
	lines := []string{
		`{"entity": "` + secret + `", "values": {"age": "` + secret + `"}}`,
		`{"entity": "` + secret + `", "values": {"avatar": "` + secret + `"}}`,
		`{"entity": "` + secret + `", "values": {"signup_time": "` + secret + `"}}`,
		`{"entity": "` + secret + `", "event_time": "` + secret + `"}`,
	}
	for _, line := range lines {
		_, err := testSchema(fvv1.KeyType_KEY_TYPE_INT64).parseRow([]byte(line))
		if err == nil {
			t.Fatalf("parseRow(%s) succeeded, want an error", line)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("parseRow(%s) error %q repeats the input", line, err)
		}
	}
}

func TestReadRowsChecksEveryLineBeforeReturningAny(t *testing.T) {
	t.Parallel()
	input := strings.Join([]string{
		`{"entity": "c-1", "values": {"age": 1}}`,
		``,
		`{"entity": "c-2", "values": {"age": "two"}}`,
		`   `,
		`{"entity": "c-3", "values": {"age": 3}}`,
		`{"entity": "c-4", "values": {"nope": 4}}`,
	}, "\n")
	rows, _, err := testSchema(fvv1.KeyType_KEY_TYPE_STRING).readRows(strings.NewReader(input))
	if err == nil {
		t.Fatalf("readRows returned %d rows and no error, want an error naming lines 3 and 6", len(rows))
	}
	if rows != nil {
		t.Errorf("readRows returned %d rows along with an error, want none", len(rows))
	}
	msg := err.Error()
	for _, want := range []string{`line 3: field "age" (int64)`, `line 6: view profile has no field "nope"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("readRows error = %q, want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "line 1:") || strings.Contains(msg, "line 5:") {
		t.Errorf("readRows error = %q names a good line", msg)
	}
}

func TestReadRowsNumbersLinesAndSkipsBlankOnes(t *testing.T) {
	t.Parallel()
	input := "\n{\"entity\": \"c-1\"}\n\n{\"entity\": \"c-2\"}\r\n"
	rows, lines, err := testSchema(fvv1.KeyType_KEY_TYPE_STRING).readRows(strings.NewReader(input))
	if err != nil {
		t.Fatalf("readRows: %v", err)
	}
	if len(rows) != 2 || rows[0].GetEntityKey() != "c-1" || rows[1].GetEntityKey() != "c-2" {
		t.Fatalf("readRows = %v, want rows of c-1 and c-2", rows)
	}
	if want := []int{2, 4}; len(lines) != 2 || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("readRows lines = %v, want %v", lines, want)
	}
}

func TestReadRowsCapsTheErrorList(t *testing.T) {
	t.Parallel()
	input := strings.Repeat(`{"entity": 1}`+"\n", maxLineErrors+5)
	_, _, err := testSchema(fvv1.KeyType_KEY_TYPE_STRING).readRows(strings.NewReader(input))
	if err == nil {
		t.Fatal("readRows accepted numeric keys for a string entity")
	}
	if got := strings.Count(err.Error(), "has string keys"); got != maxLineErrors {
		t.Errorf("readRows listed %d bad lines, want %d", got, maxLineErrors)
	}
	if !strings.Contains(err.Error(), "and 5 more bad lines") {
		t.Errorf("readRows error = %q, want it to count the lines left out", err)
	}
}

func TestReadRowsRefusesEmptyInput(t *testing.T) {
	t.Parallel()
	if rows, _, err := testSchema(fvv1.KeyType_KEY_TYPE_STRING).readRows(strings.NewReader("\n \n")); err == nil {
		t.Errorf("readRows(blank input) = %v, nil; want an error", rows)
	}
}

// TestGetOutputReadsBackAsPutInput checks that every value get -o json
// prints converts back through put's parser to the same value.
func TestGetOutputReadsBackAsPutInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field *fvv1.Field
		value *fvv1.Value
	}{
		{field(fvv1.FieldType_FIELD_TYPE_BOOL), boolV(true)},
		{field(fvv1.FieldType_FIELD_TYPE_INT64), intV(math.MinInt64)},
		{field(fvv1.FieldType_FIELD_TYPE_FLOAT64), floatV(0.1)},
		{field(fvv1.FieldType_FIELD_TYPE_FLOAT64), floatV(-1e-300)},
		{nanField(fvv1.FieldType_FIELD_TYPE_FLOAT64), floatV(math.Inf(1))},
		{field(fvv1.FieldType_FIELD_TYPE_STRING), strV("<a & b>\n\"q\"")},
		{field(fvv1.FieldType_FIELD_TYPE_BYTES), bytesV([]byte{0, 0xff, 0x10})},
		{field(fvv1.FieldType_FIELD_TYPE_TIMESTAMP), timeV(time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC))},
		{field(fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST), listV(0.1, -3.4e38, 1e-45)},
		{field(fvv1.FieldType_FIELD_TYPE_STRING), &fvv1.Value{}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		appendJSON(&b, valueJSON(tt.value))
		got, err := jsonValue(tt.field, decodeJSON(t, b.String()))
		if err != nil {
			t.Errorf("value %v printed as %s does not read back: %v", tt.value, b.String(), err)
			continue
		}
		if !proto.Equal(got, tt.value) {
			t.Errorf("value %v printed as %s reads back as %v", tt.value, b.String(), got)
		}
	}
}

func TestBatchesSplitByRowsAndBytes(t *testing.T) {
	t.Parallel()
	rows := make([]*fvv1.Row, 7)
	for i := range rows {
		rows[i] = &fvv1.Row{EntityKey: strings.Repeat("k", 100)}
	}
	sizes := func(maxRows, maxBytes int) []int {
		var got []int
		next := 0
		for first, b := range batches(rows, maxRows, maxBytes) {
			if first != next {
				t.Errorf("batch starts at %d, want %d", first, next)
			}
			next = first + len(b)
			got = append(got, len(b))
		}
		if next != len(rows) {
			t.Errorf("batches covered %d rows, want %d", next, len(rows))
		}
		return got
	}
	for _, tt := range []struct {
		maxRows, maxBytes int
		want              string
	}{
		{3, 1 << 20, "[3 3 1]"},
		{10, 1 << 20, "[7]"},
		{10, 250, "[2 2 2 1]"},
		{10, 1, "[1 1 1 1 1 1 1]"}, // a row larger than the cap goes alone
	} {
		if got := sizes(tt.maxRows, tt.maxBytes); fmtInts(got) != tt.want {
			t.Errorf("batches(7 rows, %d rows, %d bytes) sizes = %v, want %s", tt.maxRows, tt.maxBytes, got, tt.want)
		}
	}
}

func fmtInts(s []int) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), ",", " ")
}

// FuzzParseRow checks that no input line panics the parser and that every
// row it accepts holds, for each field, a value of the field's declared
// type (or NULL).
func FuzzParseRow(f *testing.F) {
	for _, seed := range []string{
		`{"entity": "c-42", "event_time": "2026-11-01T00:00:00Z", "values": {"email": "a@example.com", "income": 52000.5, "age": 41}}`,
		`{"entity": 42, "values": {"embedding": [0.5, 1e3], "avatar": "AAE=", "is_active": true, "signup_time": "2021-06-15T09:30:00.5+02:00"}}`,
		`{"entity": "x", "values": {"age": 4.1e1, "income": null}}`,
		`[1, 2]`, `{"entity": "x"} 1`, `{"entity": 1e400}`,
	} {
		f.Add([]byte(seed))
	}
	schemas := []*rowSchema{testSchema(fvv1.KeyType_KEY_TYPE_STRING), testSchema(fvv1.KeyType_KEY_TYPE_INT64)}
	kinds := map[fvv1.FieldType]func(*fvv1.Value) bool{
		fvv1.FieldType_FIELD_TYPE_BOOL:         func(v *fvv1.Value) bool { _, ok := v.Kind.(*fvv1.Value_BoolValue); return ok },
		fvv1.FieldType_FIELD_TYPE_INT64:        func(v *fvv1.Value) bool { _, ok := v.Kind.(*fvv1.Value_Int64Value); return ok },
		fvv1.FieldType_FIELD_TYPE_FLOAT64:      func(v *fvv1.Value) bool { _, ok := v.Kind.(*fvv1.Value_Float64Value); return ok },
		fvv1.FieldType_FIELD_TYPE_STRING:       func(v *fvv1.Value) bool { _, ok := v.Kind.(*fvv1.Value_StringValue); return ok },
		fvv1.FieldType_FIELD_TYPE_BYTES:        func(v *fvv1.Value) bool { _, ok := v.Kind.(*fvv1.Value_BytesValue); return ok },
		fvv1.FieldType_FIELD_TYPE_TIMESTAMP:    func(v *fvv1.Value) bool { _, ok := v.Kind.(*fvv1.Value_TimestampValue); return ok },
		fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST: func(v *fvv1.Value) bool { _, ok := v.Kind.(*fvv1.Value_FloatListValue); return ok },
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, s := range schemas {
			row, err := s.parseRow(line)
			if err != nil {
				continue
			}
			if row.GetEntityKey() == "" {
				t.Errorf("parseRow(%q) accepted an empty entity key", line)
			}
			for name, v := range row.GetValues() {
				f, ok := s.fields[name]
				if !ok {
					t.Fatalf("parseRow(%q) accepted unknown field %q", line, name)
				}
				if v.Kind != nil && !kinds[f.GetType()](v) {
					t.Errorf("parseRow(%q) field %q (%s) holds %T", line, name, f.GetType(), v.Kind)
				}
				if x, ok := v.Kind.(*fvv1.Value_Float64Value); ok && (math.IsNaN(x.Float64Value) || math.IsInf(x.Float64Value, 0)) {
					t.Errorf("parseRow(%q) field %q holds a non-finite float without allow_nan", line, name)
				}
			}
		}
	})
}
