package audit

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The canonical encoding of a record, version 1. It is what the MAC covers
// and, followed by lp(Hash), exactly what is stored:
//
//	"featurevault/audit/v1"
//	lp(PrevHash)
//	be64(Seq) be64(Time as Unix nanoseconds)
//	lp(Principal) lp(Action) lp(Procedure) lp(View)
//	list(Allowed) list(Denied)
//	uvarint(Entities)
//	list(Subjects)
//	lp(Purpose) lp(Env) lp(Rule)
//	be64(Epsilon bits) be64(Delta bits)
//	lp(Outcome) lp(Detail)
//
// lp(x) is x prefixed by its length as a minimal uvarint; list(l) is
// uvarint(len(l)) followed by lp of each element. Every field has a fixed
// place and a length, so no two records share an encoding, and the domain
// string keeps these bytes from being mistaken for any other MACed message
// under the same key.
const domain = "featurevault/audit/v1"

// domainV2 starts the encoding of a record that names how its caller
// authenticated: the version 1 encoding with domainV2 in place of domain,
// followed by lp(Auth). A record with an empty Auth is always encoded as
// version 1, so each record has exactly one encoding, and logs written
// before Auth existed verify unchanged.
const domainV2 = "featurevault/audit/v2"

var errDecode = errors.New("bad encoding")

// encodeContent returns r's canonical encoding, without r.Hash.
func encodeContent(r *Record) []byte {
	n := len(domain) + len(r.PrevHash) + 64 +
		len(r.Principal) + len(r.Action) + len(r.Procedure) + len(r.View) +
		len(r.Purpose) + len(r.Env) + len(r.Rule) + len(r.Outcome) + len(r.Detail)
	for _, l := range [][]string{r.Allowed, r.Denied, r.Subjects} {
		for _, s := range l {
			n += len(s) + 2
		}
	}
	n += len(r.Auth) + 2
	b := make([]byte, 0, n)
	if r.Auth != "" {
		b = append(b, domainV2...)
	} else {
		b = append(b, domain...)
	}
	b = appendLP(b, r.PrevHash)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	b = appendLPString(b, r.Principal)
	b = appendLPString(b, r.Action)
	b = appendLPString(b, r.Procedure)
	b = appendLPString(b, r.View)
	b = appendList(b, r.Allowed)
	b = appendList(b, r.Denied)
	b = binary.AppendUvarint(b, uint64(r.Entities)) // #nosec G115 -- Entities is a count, never negative
	b = appendList(b, r.Subjects)
	b = appendLPString(b, r.Purpose)
	b = appendLPString(b, r.Env)
	b = appendLPString(b, r.Rule)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Epsilon))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Delta))
	b = appendLPString(b, r.Outcome)
	b = appendLPString(b, r.Detail)
	if r.Auth != "" {
		b = appendLPString(b, r.Auth)
	}
	return b
}

// encodeStored returns the stored form of a chained record: its canonical
// encoding followed by lp(Hash).
func encodeStored(content []byte, hash []byte) []byte {
	b := make([]byte, 0, len(content)+binary.MaxVarintLen64+len(hash))
	b = append(b, content...)
	return appendLP(b, hash)
}

// decodeStored parses a stored record. It returns the record (Hash set) and
// the canonical encoding the MAC must verify over. It accepts only the
// canonical form: re-encoding the record gives back the same bytes.
func decodeStored(b []byte) (Record, []byte, error) {
	var r Record
	d := decoder{b: b}
	v2 := false
	switch {
	case len(b) >= len(domain) && string(b[:len(domain)]) == domain:
	case len(b) >= len(domainV2) && string(b[:len(domainV2)]) == domainV2:
		v2 = true
	default:
		return r, nil, errDecode
	}
	d.off = len(domain) // both domains have the same length
	r.PrevHash = d.bytes()
	r.Seq = d.u64()
	r.Time = time.Unix(0, int64(d.u64())).UTC() // #nosec G115 -- two's-complement round trip of the UnixNano written by encode
	r.Principal = d.str()
	r.Action = d.str()
	r.Procedure = d.str()
	r.View = d.str()
	r.Allowed = d.list()
	r.Denied = d.list()
	if e := d.uvarint(); e > math.MaxInt {
		d.err = errDecode
	} else {
		r.Entities = int(e)
	}
	r.Subjects = d.list()
	r.Purpose = d.str()
	r.Env = d.str()
	r.Rule = d.str()
	r.Epsilon = math.Float64frombits(d.u64())
	r.Delta = math.Float64frombits(d.u64())
	r.Outcome = d.str()
	r.Detail = d.str()
	if v2 {
		if r.Auth = d.str(); r.Auth == "" {
			d.err = errDecode // an empty Auth is encoded as version 1
		}
	}
	contentEnd := d.off
	r.Hash = d.bytes()
	if d.err != nil || d.off != len(b) {
		return Record{}, nil, errDecode
	}
	return r, b[:contentEnd], nil
}

func appendLP(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendLPString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendList(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendLPString(b, s)
	}
	return b
}

// decoder reads the canonical encoding; the first error sticks and later
// reads return zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	// Reject truncated, overflowing and non-minimal (padded) encodings.
	if n <= 0 || n != uvarintLen(v) {
		d.err = errDecode
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.err = errDecode
		return 0
	}
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) { // #nosec G115 -- d.off <= len(d.b) always holds
		d.err = errDecode
		return nil
	}
	if n == 0 {
		return nil
	}
	v := make([]byte, n)
	copy(v, d.b[d.off:])
	d.off += int(n) // #nosec G115 -- n <= len(d.b)-d.off, checked above
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) list() []string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	// Each element takes at least one byte: bound the allocation by what is
	// left, so a forged count cannot exhaust memory.
	if n > uint64(len(d.b)-d.off) { // #nosec G115 -- d.off <= len(d.b) always holds
		d.err = errDecode
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.str()
	}
	return l
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
