package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/fuzzcorpus"
	"github.com/featurevault/featurevault/keys"
)

// encodeRow is the inverse of decodeRow, as write.go builds a row value.
func encodeRow(r *encodedRow) []byte {
	b := appendRowHeader(nil, r.schemaVersion, r.createdNanos, len(r.slots))
	for _, s := range r.slots {
		b = appendSlot(b, s)
	}
	return b
}

// FuzzDecodeRow: decoding arbitrary bytes never panics, fails only with
// errRowFormat, and whatever decodes re-encodes to the same bytes, so a
// row value has exactly one encoding (no padded varints, no trailing
// bytes).
func FuzzDecodeRow(f *testing.F) {
	fuzzcorpus.Add(f, encodeRow(&encodedRow{schemaVersion: 3, createdNanos: 1_700_000_000_000_000_000, slots: [][]byte{nil, []byte("ciphertext"), {}}}))
	fuzzcorpus.Add(f, encodeRow(&encodedRow{schemaVersion: math.MaxUint32, createdNanos: math.MinInt64}))
	fuzzcorpus.Add(f, []byte{rowFormat, 0x80, 0x00, 0, 0})                // schema version 0 as a two-byte varint
	fuzzcorpus.Add(f, []byte{rowFormat, 1, 0, 0x81, 0x80, 0x80, 0x80, 0}) // a slot count far above the bytes left
	fuzzcorpus.Add(f, []byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r encodedRow
		if err := decodeRow(b, &r); err != nil {
			if !errors.Is(err, errRowFormat) {
				t.Fatalf("decodeRow error %v, want errRowFormat", err)
			}
			return
		}
		if got := encodeRow(&r); !bytes.Equal(got, b) {
			t.Errorf("re-encoding differs:\n in  %x\n out %x", b, got)
		}
	})
}

// FuzzRowRoundTrip: every row the writer can encode (any schema version,
// created time and slots, NULL or not, empty or not) decodes to itself,
// NULL staying distinct from an empty ciphertext.
func FuzzRowRoundTrip(f *testing.F) {
	fuzzcorpus.Add(f, uint32(1), int64(0), []byte("a"), []byte{}, []byte("ccc"), uint8(0b010))
	fuzzcorpus.Add(f, uint32(math.MaxUint32), int64(math.MinInt64), []byte{}, []byte{0}, []byte(nil), uint8(0b111))
	f.Fuzz(func(t *testing.T, sv uint32, created int64, a, b, c []byte, nulls uint8) {
		want := encodedRow{schemaVersion: sv, createdNanos: created}
		for i, s := range [][]byte{a, b, c} {
			if nulls&(1<<i) != 0 {
				want.slots = append(want.slots, nil)
			} else {
				want.slots = append(want.slots, append([]byte{}, s...))
			}
		}
		var got encodedRow
		if err := decodeRow(encodeRow(&want), &got); err != nil {
			t.Fatalf("decodeRow(encodeRow(%+v)): %v", want, err)
		}
		if got.schemaVersion != sv || got.createdNanos != created || len(got.slots) != len(want.slots) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		for i := range want.slots {
			if (got.slots[i] == nil) != (want.slots[i] == nil) || !bytes.Equal(got.slots[i], want.slots[i]) {
				t.Errorf("slot %d = %x (nil %v), want %x (nil %v)", i, got.slots[i], got.slots[i] == nil, want.slots[i], want.slots[i] == nil)
			}
		}
	})
}

// FuzzDecodePlain: a plaintext decodes, for any field type, only if it is
// the one encoding of its value: decodePlain then appendPlain gives the
// same bytes back.
func FuzzDecodePlain(f *testing.F) {
	fuzzcorpus.Add(f, uint8(Timestamp), []byte{0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00, 0x3b, 0x9a, 0xc9, 0xff}) // nanoseconds 999999999
	fuzzcorpus.Add(f, uint8(Timestamp), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x00})             // nanoseconds 1e9: one second more
	fuzzcorpus.Add(f, uint8(Bool), []byte{1})
	fuzzcorpus.Add(f, uint8(Bool), []byte{2})
	fuzzcorpus.Add(f, uint8(Float32List), []byte{0x7f, 0xc0, 0, 1})
	fuzzcorpus.Add(f, uint8(String), []byte("\xff"))
	f.Fuzz(func(t *testing.T, typ uint8, p []byte) {
		ft := FieldType(typ % 8) // 0 is no type: nothing decodes
		v, ok := decodePlain(ft, p)
		if !ok {
			return
		}
		if got := appendPlain(nil, ft, v); !bytes.Equal(got, p) {
			t.Errorf("%s: %x decodes to %v, which encodes as %x", ft, p, v, got)
		}
	})
}

// FuzzValueRoundTrip: every value checkValue accepts (NaN admitted)
// encodes and decodes back to itself, bit for bit for floats.
func FuzzValueRoundTrip(f *testing.F) {
	fuzzcorpus.Add(f, uint8(Timestamp), true, int64(-1), math.Inf(1), "é", []byte{0}, int64(253402300799), uint32(999999999))
	fuzzcorpus.Add(f, uint8(Float32List), false, int64(0), math.NaN(), "", []byte{0x7f, 0xc0, 0, 1, 0xff, 0xff, 0xff, 0xff}, int64(-62135596800), uint32(0))
	f.Fuzz(func(t *testing.T, typ uint8, bo bool, i int64, fl float64, s string, raw []byte, sec int64, nsec uint32) {
		ft := FieldType(typ%7 + 1)
		var v any
		switch ft {
		case Bool:
			v = bo
		case Int64:
			v = i
		case Float64:
			v = fl
		case String:
			v = s
		case Bytes:
			v = raw
		case Timestamp:
			v = time.Unix(sec, int64(nsec%1e9)).UTC()
		case Float32List:
			l := make([]float32, len(raw)/4)
			for k := range l {
				l[k] = math.Float32frombits(binary.BigEndian.Uint32(raw[4*k:]))
			}
			v = l
		}
		checked, err := checkValue(&Field{Name: "f", Type: ft, AllowNaN: true}, v)
		if err != nil {
			return
		}
		p := appendPlain(nil, ft, checked)
		got, ok := decodePlain(ft, p)
		if !ok {
			t.Fatalf("%s %v: encoding %x does not decode", ft, v, p)
		}
		if again := appendPlain(nil, ft, got); !bytes.Equal(again, p) {
			t.Errorf("%s %v: decoded %v encodes as %x, want %x", ft, v, got, again, p)
		}
		if ts, ok := checked.(time.Time); ok && !got.(time.Time).Equal(ts) {
			t.Errorf("timestamp %v decoded as %v", ts, got)
		}
	})
}

// valueAAD is the tuple a value's associated data binds.
type valueAAD struct {
	view, field string
	bi          keys.BlindIndex
	eventNanos  int64
	schema      uint32
}

// parseValueAAD is a reference decoder of the value AAD layout in aad.go.
// That it recovers every tuple from its encoding proves the encoding
// injective: two different tuples can never share an AAD.
func parseValueAAD(b []byte) (valueAAD, bool) {
	var a valueAAD
	if !bytes.HasPrefix(b, []byte(aadValueTag)) {
		return a, false
	}
	b = b[len(aadValueTag):]
	var ok bool
	if a.view, b, ok = parseLP(b); !ok || len(b) < len(a.bi)+8 {
		return a, false
	}
	b = b[copy(a.bi[:], b):]
	a.eventNanos = int64(binary.BigEndian.Uint64(b)) // #nosec G115 -- the two's-complement bits aad.go wrote
	b = b[8:]
	sv, n := binary.Uvarint(b)
	if n <= 0 || sv > math.MaxUint32 {
		return a, false
	}
	a.schema = uint32(sv)
	if a.field, b, ok = parseLP(b[n:]); !ok || len(b) != 0 {
		return a, false
	}
	return a, true
}

func parseLP(b []byte) (string, []byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, false
	}
	return string(b[w : w+int(n)]), b[w+int(n):], true // #nosec G115 -- n <= len(b), checked
}

// FuzzAADInjective: the value AAD of any (view, field, subject, event
// time, schema version) parses back to exactly that tuple, whatever bytes
// the names hold (separators, length-like digits, the other tag); the AAD
// of a row's second field is the same as if built afresh; and a subject
// AAD is never a value AAD.
func FuzzAADInjective(f *testing.F) {
	fuzzcorpus.Add(f, "v", "f", []byte("0123456789abcdef"), int64(0), uint32(1), "g")
	fuzzcorpus.Add(f, "v\x01f", "", []byte{}, int64(-1), uint32(math.MaxUint32), "\x01")
	fuzzcorpus.Add(f, "fv1/subject", "fv1/value", []byte("\x09fv1/value"), int64(math.MinInt64), uint32(0x80), "v.f")
	f.Fuzz(func(t *testing.T, view, field string, bi []byte, eventNanos int64, sv uint32, other string) {
		want := valueAAD{view: view, field: field, eventNanos: eventNanos, schema: sv}
		copy(want.bi[:], bi)
		r := newRowAAD(view, want.bi, eventNanos, sv)
		_ = r.field(other) // the buffer is reused: the next field must not keep any of it
		aad := bytes.Clone(r.field(field))
		got, ok := parseValueAAD(aad)
		if !ok || got != want {
			t.Fatalf("AAD %q parses as %+v (ok %v), want %+v", aad, got, ok, want)
		}
		fresh := newRowAAD(view, want.bi, eventNanos, sv)
		if again := fresh.field(field); !bytes.Equal(again, aad) {
			t.Errorf("AAD after another field %q differs from a fresh one %q", aad, again)
		}
		sub := subjectAAD(view, want.bi)
		if _, ok := parseValueAAD(sub); ok || bytes.Equal(sub, aad) {
			t.Errorf("subject AAD %q reads as a value AAD", sub)
		}
		if !bytes.HasPrefix(sub, []byte(aadSubjectTag)) {
			t.Fatalf("subject AAD %q lacks its tag", sub)
		}
		entity, rest, ok := parseLP(sub[len(aadSubjectTag):])
		if !ok || entity != view || !bytes.Equal(rest, want.bi[:]) {
			t.Errorf("subject AAD %q parses as (%q, %x), want (%q, %x)", sub, entity, rest, view, want.bi[:])
		}
	})
}
