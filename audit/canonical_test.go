package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func fullRecord() Record {
	return Record{
		Seq: 7, Time: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
		Principal: "alice \"quoted\"\n", Action: "admin:apply_view", Procedure: "/p", View: "v<&>",
		Allowed: []string{"a", ""}, Denied: []string{"d"}, Entities: 1 << 40,
		Subjects: []string{"00112233445566778899aabbccddeeff"}, Purpose: "training", Env: "prod",
		Rule: "p, r, v.*, read", Epsilon: 0.1, Delta: math.SmallestNonzeroFloat64,
		Outcome: "ok", Detail: "\u2028 é", PrevHash: Digest{1, 2, 3}, Hash: Digest{4, 5},
	}
}

func TestCanonicalEncodingRoundTrips(t *testing.T) {
	t.Parallel()
	r := fullRecord()
	b := encodeStored(encodeContent(&r), r.Hash)
	got, content, err := decodeStored(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("decode(encode(r)) (-want +got):\n%s", diff)
	}
	if !bytes.Equal(content, encodeContent(&r)) {
		t.Error("decoded content is not the canonical encoding")
	}
}

// TestExportedJSONReencodesToTheMACedBytes: a JSON line, decoded and
// re-encoded, gives back the exact bytes the MAC covered, so an exported
// archive can be verified later.
func TestExportedJSONReencodesToTheMACedBytes(t *testing.T) {
	t.Parallel()
	r := fullRecord()
	want := encodeContent(&r)
	line, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	if got := encodeContent(&back); !bytes.Equal(got, want) {
		t.Errorf("re-encoded JSON differs from the MACed bytes\njson: %s", line)
	}
}

func TestDecodeRejectsNonCanonicalBytes(t *testing.T) {
	t.Parallel()
	r := fullRecord()
	good := encodeStored(encodeContent(&r), r.Hash)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"other domain", append([]byte("featurevault/audit/v2"), good[len(domain):]...)},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"truncated", good[:len(good)-1]},
		{"padded varint", append(append([]byte(domain), 0x83, 0x00), good[len(domain)+1:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, _, err := decodeStored(tt.b); err == nil {
				t.Error("decoded; want an error")
			}
		})
	}
}

// FuzzDecodeStored: decoding never panics, and whatever decodes re-encodes
// to the same bytes (one encoding per record).
func FuzzDecodeStored(f *testing.F) {
	r := fullRecord()
	f.Add(encodeStored(encodeContent(&r), r.Hash))
	var empty Record
	f.Add(encodeStored(encodeContent(&empty), nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, content, err := decodeStored(b)
		if err != nil {
			return
		}
		if got := encodeStored(encodeContent(&rec), rec.Hash); !bytes.Equal(got, b) {
			t.Errorf("re-encoding differs:\n in  %x\n out %x", b, got)
		}
		if !bytes.Equal(content, b[:len(content)]) {
			t.Error("content is not a prefix of the stored bytes")
		}
	})
}

func TestCanonicalEncodingV2CarriesAuthAndV1StaysForEmptyAuth(t *testing.T) {
	t.Parallel()
	r := fullRecord()
	v1 := encodeContent(&r)
	if !bytes.HasPrefix(v1, []byte(domain)) {
		t.Fatalf("a record without Auth is not encoded as version 1")
	}
	r.Auth = "oidc https://idp.example.com sub=248289"
	b := encodeStored(encodeContent(&r), r.Hash)
	if !bytes.HasPrefix(b, []byte(domainV2)) {
		t.Fatalf("a record with Auth is not encoded as version 2")
	}
	got, content, err := decodeStored(b)
	if err != nil {
		t.Fatalf("decodeStored(v2): %v", err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("v2 round trip (-want +got):\n%s", diff)
	}
	if !bytes.Equal(content, encodeContent(&r)) {
		t.Errorf("decoded content is not the canonical encoding")
	}
	// A version 2 record with an empty Auth is not canonical.
	r.Auth = ""
	forged := append([]byte(domainV2), encodeContent(&r)[len(domain):]...)
	forged = appendLPString(forged, "")
	if _, _, err := decodeStored(encodeStored(forged, r.Hash)); err == nil {
		t.Errorf("decodeStored accepted a version 2 record with an empty Auth")
	}
}
