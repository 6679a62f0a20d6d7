package store

import (
	"encoding/binary"
	"math"
	"time"
	"unicode/utf8"
)

// MaxValueBytes is the largest encoded value a field accepts (256 KiB).
const MaxValueBytes = 256 << 10

// Plaintext encodings, one per type, fixed-size where the type is, so that a
// ciphertext's length reveals nothing about a number's magnitude:
//
//	bool       1 byte (0 or 1)
//	int64      8 bytes big-endian two's complement
//	float64    8 bytes big-endian IEEE 754
//	string     the UTF-8 bytes
//	bytes      the bytes
//	timestamp  8 bytes big-endian seconds + 4 bytes big-endian nanoseconds
//	list<float32>  4 bytes big-endian IEEE 754 per element
//
// Ciphertext length does reveal the length of strings, bytes and lists, and
// whether a value is NULL, as with any per-value AEAD.

// checkValue reports whether v is a valid value of f, and returns it in its
// canonical Go type (int becomes int64). nil is NULL and always valid.
func checkValue(f *Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, errorf(KindInvalid, "field %q is %s, got a %s value", f.Name, f.Type, goTypeName(v))
	}
	switch f.Type {
	case Bool:
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case Int64:
		switch x := v.(type) {
		case int64:
		case int:
			return int64(x), nil
		default:
			return bad()
		}
	case Float64:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		if !f.AllowNaN && (math.IsNaN(x) || math.IsInf(x, 0)) {
			return nil, errorf(KindInvalid, "field %q refuses NaN and infinities; send null for a missing value, or declare allow_nan: true", f.Name)
		}
	case String:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		if !utf8.ValidString(x) {
			return nil, errorf(KindInvalid, "field %q: string is not valid UTF-8; use a bytes field for binary data", f.Name)
		}
		if len(x) > MaxValueBytes {
			return nil, errorf(KindInvalid, "field %q: string of %d bytes exceeds the %d-byte limit", f.Name, len(x), MaxValueBytes)
		}
	case Bytes:
		x, ok := v.([]byte)
		if !ok {
			return bad()
		}
		if len(x) > MaxValueBytes {
			return nil, errorf(KindInvalid, "field %q: %d bytes exceeds the %d-byte limit", f.Name, len(x), MaxValueBytes)
		}
	case Timestamp:
		x, ok := v.(time.Time)
		if !ok {
			return bad()
		}
		if x.Year() < 1 || x.Year() > 9999 {
			return nil, errorf(KindInvalid, "field %q: timestamp outside years 1..9999", f.Name)
		}
	case Float32List:
		x, ok := v.([]float32)
		if !ok {
			return bad()
		}
		if len(x)*4 > MaxValueBytes {
			return nil, errorf(KindInvalid, "field %q: list of %d elements exceeds the %d-byte limit", f.Name, len(x), MaxValueBytes)
		}
		if !f.AllowNaN {
			for _, e := range x {
				if math.IsNaN(float64(e)) || math.IsInf(float64(e), 0) {
					return nil, errorf(KindInvalid, "field %q refuses NaN and infinities in lists; declare allow_nan: true to admit them", f.Name)
				}
			}
		}
	default:
		return bad()
	}
	return v, nil
}

func goTypeName(v any) string {
	switch v.(type) {
	case bool:
		return "bool"
	case int, int64, int32:
		return "integer"
	case float64, float32:
		return "float"
	case string:
		return "string"
	case []byte:
		return "bytes"
	case time.Time:
		return "timestamp"
	case []float32, []float64:
		return "list"
	}
	return "unsupported"
}

// appendPlain appends the plaintext encoding of v (already checked) to b.
func appendPlain(b []byte, t FieldType, v any) []byte {
	switch t {
	case Bool:
		if v.(bool) {
			return append(b, 1)
		}
		return append(b, 0)
	case Int64:
		return binary.BigEndian.AppendUint64(b, uint64(v.(int64))) // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding
	case Float64:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v.(float64)))
	case String:
		return append(b, v.(string)...)
	case Bytes:
		return append(b, v.([]byte)...)
	case Timestamp:
		ts := v.(time.Time)
		b = binary.BigEndian.AppendUint64(b, uint64(ts.Unix()))          // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding
		return binary.BigEndian.AppendUint32(b, uint32(ts.Nanosecond())) // #nosec G115 -- Nanosecond() is in [0, 1e9)
	case Float32List:
		for _, e := range v.([]float32) {
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(e))
		}
		return b
	}
	return b
}

// decodePlain is the inverse of appendPlain. A length that does not fit the
// type, or any other encoding appendPlain would not write, means the bytes
// are not what was written.
func decodePlain(t FieldType, p []byte) (any, bool) {
	switch t {
	case Bool:
		if len(p) != 1 || p[0] > 1 {
			return nil, false
		}
		return p[0] == 1, true
	case Int64:
		if len(p) != 8 {
			return nil, false
		}
		return int64(binary.BigEndian.Uint64(p)), true // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding
	case Float64:
		if len(p) != 8 {
			return nil, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), true
	case String:
		return string(p), true
	case Bytes:
		return p, true
	case Timestamp:
		if len(p) != 12 {
			return nil, false
		}
		sec := int64(binary.BigEndian.Uint64(p)) // #nosec G115 -- two's-complement bit reinterpretation, the inverse of the encoding
		nsec := binary.BigEndian.Uint32(p[8:])
		if nsec >= 1e9 { // not an encoding appendPlain writes
			return nil, false
		}
		return time.Unix(sec, int64(nsec)).UTC(), true
	case Float32List:
		if len(p)%4 != 0 {
			return nil, false
		}
		out := make([]float32, len(p)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.BigEndian.Uint32(p[4*i:]))
		}
		return out, true
	}
	return nil, false
}
