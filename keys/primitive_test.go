package keys

import (
	"bytes"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// roundTrip checks that what one AEAD encrypts the other decrypts.
func roundTrip(t *testing.T, enc, dec tink.AEAD) {
	t.Helper()
	ct, err := enc.Encrypt([]byte("value"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := dec.Decrypt(ct, []byte("ad"))
	if err != nil || !bytes.Equal(pt, []byte("value")) {
		t.Fatalf("decrypt = %q, %v; want the value", pt, err)
	}
}

func TestCachedKeyOfAOneKeySubjectHoldsTheKeyNotThePrimitive(t *testing.T) {
	h, err := keyset.NewHandle(aead.AES256GCMNoPrefixKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cachedKeyOf(h)
	if err != nil {
		t.Fatal(err)
	}
	if c.gcm == nil || c.other != nil {
		t.Fatalf("cached form = %+v; want the AES-GCM key object only", c)
	}
	p, err := c.primitive()
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, p)
	roundTrip(t, p, a)
}

func TestCachedKeyOfOtherKeysetsHoldsThePrimitive(t *testing.T) {
	m := keyset.NewManager()
	for range 2 { // two keys, as while a subject key rotates
		id, err := m.Add(aead.AES256GCMNoPrefixKeyTemplate())
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetPrimary(id); err != nil {
			t.Fatal(err)
		}
	}
	h, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cachedKeyOf(h)
	if err != nil {
		t.Fatal(err)
	}
	if c.gcm != nil || c.other == nil {
		t.Fatalf("cached form = %+v; want the keyset's primitive", c)
	}
	p, err := c.primitive()
	if err != nil {
		t.Fatal(err)
	}
	if p != c.other {
		t.Fatalf("primitive() = %v; want the cached primitive itself, built once", p)
	}
	roundTrip(t, p, a)
	roundTrip(t, a, p)
}
