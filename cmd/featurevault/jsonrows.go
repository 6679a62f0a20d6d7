package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/internal/specpb"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// Rows are written as JSON lines, one row per line, as in the design brief:
//
//	{"entity": "c-42", "event_time": "2026-11-01T00:00:00Z", "values": {"email": "a@example.com", "age": 41}}
//
// "entity" is the entity key: a JSON string, or for an int64 entity a JSON
// integer (or a string of one). "event_time" is RFC 3339 and optional (the
// server stamps the row with its own clock). "values" maps field names to
// JSON values, converted by the field's declared type:
//
//	bool           true or false
//	int64          a number with an integral value (41, 41.0, 4.1e1)
//	float64        a number; "NaN", "Infinity", "-Infinity" only if the field allows NaN
//	string         a string
//	bytes          a base64 string (standard alphabet, padding optional)
//	timestamp      an RFC 3339 string
//	list<float32>  an array of numbers, each within float32's range
//
// null, or leaving a field out, stores NULL. Everything else is refused
// with a message naming the line and the field; the messages never repeat
// the value or the entity key, which may be personal data.

// maxLineBytes bounds one JSON line. The server's request limit (4 MiB by
// default) is the real bound on a row; this only keeps a runaway input from
// exhausting memory.
const maxLineBytes = 16 << 20

// maxLineErrors is how many bad lines readRows reports before it stops
// listing them.
const maxLineErrors = 10

// rowSchema converts JSON-line rows into WriteFeatures rows of one view,
// checking each value against its field's declared type.
type rowSchema struct {
	view    string
	entity  string
	keyType fvv1.KeyType
	fields  map[string]*fvv1.Field
	names   []string // field names in view order, for messages
}

// newRowSchema returns the schema of view, whose entity is ent (both as
// GetFeatureView returns them).
func newRowSchema(view *fvv1.FeatureView, ent *fvv1.Entity) *rowSchema {
	s := &rowSchema{
		view:    view.GetName(),
		entity:  ent.GetName(),
		keyType: ent.GetKeyType(),
		fields:  make(map[string]*fvv1.Field, len(view.GetFields())),
	}
	for _, f := range view.GetFields() {
		s.fields[f.GetName()] = f
		s.names = append(s.names, f.GetName())
	}
	return s
}

// lineError is a bad line of the input; line numbers start at 1.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// readRows reads and converts every line of r before returning, so that a
// caller sends nothing unless the whole input is valid. Blank lines are
// skipped; lines[i] is the line number of rows[i]. On bad lines the error
// joins a lineError for each of the first maxLineErrors of them and says
// how many more there were.
func (s *rowSchema) readRows(r io.Reader) (rows []*fvv1.Row, lines []int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var (
		errs []error
		bad  int
		line int
	)
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		row, err := s.parseRow(text)
		if err != nil {
			bad++
			if bad <= maxLineErrors {
				errs = append(errs, &lineError{line: line, err: err})
			}
			continue
		}
		rows = append(rows, row)
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line is longer than %d bytes", maxLineBytes)
		}
		return nil, nil, &lineError{line: line + 1, err: err}
	}
	if bad > maxLineErrors {
		errs = append(errs, fmt.Errorf("and %d more bad lines", bad-maxLineErrors))
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	if len(rows) == 0 {
		return nil, nil, errors.New("no rows: the input is empty")
	}
	return rows, lines, nil
}

// parseRow converts one JSON line into a row.
func (s *rowSchema) parseRow(line []byte) (*fvv1.Row, error) {
	if !utf8.Valid(line) {
		return nil, errors.New("not valid UTF-8; encode binary values as base64 in a bytes field")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, jsonSyntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value on the line; write one row object per line")
	}
	if name, dup := duplicateKey(line); dup {
		return nil, fmt.Errorf("key %q appears twice in one object, so which value counts is ambiguous; give each key once", name)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a row is a JSON object, got %s", jsonKind(doc))
	}
	for k := range obj {
		if k != "entity" && k != "event_time" && k != "values" {
			return nil, fmt.Errorf("unknown key %q; a row has \"entity\", \"event_time\" and \"values\"", k)
		}
	}
	row := &fvv1.Row{}
	var err error
	if row.EntityKey, err = s.entityKey(obj["entity"]); err != nil {
		return nil, err
	}
	if t, ok := obj["event_time"]; ok && t != nil {
		if row.EventTime, err = jsonTimestamp(t); err != nil {
			return nil, fmt.Errorf("event_time: %w", err)
		}
	}
	switch vals := obj["values"].(type) {
	case nil:
	case map[string]any:
		row.Values = make(map[string]*fvv1.Value, len(vals))
		for name, x := range vals {
			f, ok := s.fields[name]
			if !ok {
				return nil, fmt.Errorf("view %s has no field %q; its fields are %s", s.view, name, strings.Join(s.names, ", "))
			}
			v, err := jsonValue(f, x)
			if err != nil {
				return nil, fmt.Errorf("field %q (%s): %w", name, specpb.FieldTypeName(f.GetType()), err)
			}
			row.Values[name] = v
		}
	default:
		return nil, fmt.Errorf("\"values\" is an object of field names to values, got %s", jsonKind(vals))
	}
	return row, nil
}

// entityKey returns the entity key of a row as the API carries it (a
// string; int64 keys in canonical decimal).
func (s *rowSchema) entityKey(x any) (string, error) {
	switch k := x.(type) {
	case nil:
		return "", fmt.Errorf("\"entity\" is missing; give the %s key of the row", s.entity)
	case string:
		if k == "" {
			return "", errors.New("\"entity\" is empty")
		}
		if s.keyType != fvv1.KeyType_KEY_TYPE_INT64 {
			return k, nil
		}
		i, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return "", fmt.Errorf("entity %s has int64 keys; \"entity\" is not a decimal int64", s.entity)
		}
		return strconv.FormatInt(i, 10), nil
	case json.Number:
		if s.keyType != fvv1.KeyType_KEY_TYPE_INT64 {
			return "", fmt.Errorf("entity %s has string keys; write \"entity\" as a JSON string", s.entity)
		}
		i, err := jsonInt64(k)
		if err != nil {
			return "", fmt.Errorf("\"entity\": %w", err)
		}
		return strconv.FormatInt(i, 10), nil
	}
	return "", fmt.Errorf("\"entity\" is a string or an integer, got %s", jsonKind(x))
}

// jsonValue converts the JSON value x (decoded with UseNumber) into a
// value of field f. null is NULL.
func jsonValue(f *fvv1.Field, x any) (*fvv1.Value, error) {
	if x == nil {
		return &fvv1.Value{}, nil
	}
	wrong := func(want string) error {
		return fmt.Errorf("expected %s, got %s", want, jsonKind(x))
	}
	switch f.GetType() {
	case fvv1.FieldType_FIELD_TYPE_BOOL:
		b, ok := x.(bool)
		if !ok {
			return nil, wrong("true or false")
		}
		return &fvv1.Value{Kind: &fvv1.Value_BoolValue{BoolValue: b}}, nil
	case fvv1.FieldType_FIELD_TYPE_INT64:
		n, ok := x.(json.Number)
		if !ok {
			return nil, wrong("an integer")
		}
		i, err := jsonInt64(n)
		if err != nil {
			return nil, err
		}
		return &fvv1.Value{Kind: &fvv1.Value_Int64Value{Int64Value: i}}, nil
	case fvv1.FieldType_FIELD_TYPE_FLOAT64:
		v, err := jsonFloat(x, 64, f.GetAllowNan())
		if err != nil {
			return nil, err
		}
		return &fvv1.Value{Kind: &fvv1.Value_Float64Value{Float64Value: v}}, nil
	case fvv1.FieldType_FIELD_TYPE_STRING:
		s, ok := x.(string)
		if !ok {
			return nil, wrong("a string")
		}
		return &fvv1.Value{Kind: &fvv1.Value_StringValue{StringValue: s}}, nil
	case fvv1.FieldType_FIELD_TYPE_BYTES:
		s, ok := x.(string)
		if !ok {
			return nil, wrong("a base64 string")
		}
		b, err := decodeBase64(s)
		if err != nil {
			return nil, err
		}
		return &fvv1.Value{Kind: &fvv1.Value_BytesValue{BytesValue: b}}, nil
	case fvv1.FieldType_FIELD_TYPE_TIMESTAMP:
		ts, err := jsonTimestamp(x)
		if err != nil {
			return nil, err
		}
		return &fvv1.Value{Kind: &fvv1.Value_TimestampValue{TimestampValue: ts}}, nil
	case fvv1.FieldType_FIELD_TYPE_FLOAT32_LIST:
		list, ok := x.([]any)
		if !ok {
			return nil, wrong("an array of numbers")
		}
		out := make([]float32, len(list))
		for i, e := range list {
			v, err := jsonFloat(e, 32, f.GetAllowNan())
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = float32(v)
		}
		return &fvv1.Value{Kind: &fvv1.Value_FloatListValue{FloatListValue: &fvv1.FloatList{Values: out}}}, nil
	}
	return nil, fmt.Errorf("this client does not know the field type %s; upgrade it", f.GetType())
}

// maxExactInt is the largest magnitude below which every integer has an
// exact float64: numbers written with a fraction or an exponent are only
// accepted as int64 below it.
const maxExactInt = 1 << 53

// jsonInt64 converts a JSON number with an integral value to int64.
// Plain integers convert exactly over the whole int64 range; 41.0 and
// 4.1e1 are accepted too, up to 2^53.
func jsonInt64(n json.Number) (int64, error) {
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err == nil {
		return i, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, errors.New("number is outside the int64 range")
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	switch {
	case err != nil || math.IsInf(f, 0):
		return 0, errors.New("number is outside the int64 range")
	case f != math.Trunc(f):
		return 0, errors.New("number is not an integer; int64 fields take whole numbers")
	case math.Abs(f) >= maxExactInt:
		return 0, errors.New("number with a fraction or exponent is too large to convert exactly; write it as a plain integer")
	}
	return int64(f), nil
}

// jsonFloat converts a JSON number to a float of bitSize bits (32 or 64),
// refusing numbers beyond its range. When allowNaN is set the strings
// "NaN", "Infinity" and "-Infinity" are accepted too, as JSON has no
// literal for them.
func jsonFloat(x any, bitSize int, allowNaN bool) (float64, error) {
	switch v := x.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(v.String(), bitSize)
		if err != nil || math.IsInf(f, 0) {
			return 0, fmt.Errorf("number is outside the float%d range", bitSize)
		}
		return f, nil
	case string:
		if allowNaN {
			switch v {
			case "NaN":
				return math.NaN(), nil
			case "Infinity":
				return math.Inf(1), nil
			case "-Infinity":
				return math.Inf(-1), nil
			}
			return 0, errors.New("expected a number, or \"NaN\", \"Infinity\" or \"-Infinity\"; got another string")
		}
	}
	return 0, fmt.Errorf("expected a number, got %s", jsonKind(x))
}

// decodeBase64 accepts standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("not valid base64; bytes fields take standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /)")
	}
	return b, nil
}

// jsonTimestamp converts an RFC 3339 string such as 2026-11-01T00:00:00Z
// or 2026-11-01T09:30:00.25+01:00.
func jsonTimestamp(x any) (*timestamppb.Timestamp, error) {
	s, ok := x.(string)
	if !ok {
		return nil, fmt.Errorf("expected an RFC 3339 time string, got %s", jsonKind(x))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, errors.New("not an RFC 3339 time; write it like 2026-11-01T00:00:00Z")
	}
	return timestamppb.New(t), nil
}

// jsonKind names the kind of a decoded JSON value for messages, without
// repeating the value.
func jsonKind(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", x)
}

// jsonSyntaxError reports where a line stops being JSON.
func jsonSyntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("not valid JSON: the line ends inside a value")
	}
	return fmt.Errorf("not valid JSON: %v", err)
}
