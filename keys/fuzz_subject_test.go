package keys

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/fuzzcorpus"
)

// FuzzDescribeSubject: describeSubject, which names a subject in rewrap
// errors from its keystore id, never panics on any bytes; it names an
// entity and blind index only when the id is exactly lp(entity) || bi of
// them (so a damaged id is shown as hex, never misread); and it reads back
// every id subjectID writes.
func FuzzDescribeSubject(f *testing.F) {
	var bi BlindIndex
	copy(bi[:], "0123456789abcdef")
	fuzzcorpus.Add(f, subjectID("customer", bi), "customer", bi[:])
	fuzzcorpus.Add(f, []byte{}, "", []byte{})
	// A length prefix of 2^64-16 and nothing after it: n+16 wrapped to 0
	// and passed the length check, then sliced at -6 (found by reading,
	// not by the fuzzer: a 10-byte varint is too rare to mutate into).
	fuzzcorpus.Add(f, []byte{0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "", []byte{})
	f.Fuzz(func(t *testing.T, id []byte, entity string, biBytes []byte) {
		got := describeSubject(id)
		if strings.HasPrefix(got, "entity ") {
			var e string
			var hexBI string
			if _, err := fmt.Sscanf(got, "entity %q, blind index %s", &e, &hexBI); err != nil {
				t.Fatalf("describeSubject(%x) = %q: %v", id, got, err)
			}
			raw, err := hex.DecodeString(hexBI)
			var b BlindIndex
			if err != nil || len(raw) != len(b) {
				t.Fatalf("blind index %q of %q: %v", hexBI, got, err)
			}
			copy(b[:], raw)
			if again := subjectID(e, b); !bytes.Equal(again, id) {
				t.Errorf("describeSubject(%x) = %q, but that subject's id is %x", id, got, again)
			}
		} else if want := fmt.Sprintf("keystore key s/%x", id); got != want {
			t.Errorf("describeSubject(%x) = %q, want %q", id, got, want)
		}
		var b BlindIndex
		copy(b[:], biBytes)
		want := fmt.Sprintf("entity %q, blind index %s", entity, b)
		if got := describeSubject(subjectID(entity, b)); got != want {
			t.Errorf("describeSubject(subjectID(%q, %s)) = %q, want %q", entity, b, got, want)
		}
	})
}
