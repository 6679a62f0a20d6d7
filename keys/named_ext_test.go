package keys_test

import (
	"bytes"
	"testing"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/mac"
)

func TestNamedKeysetIsStableAndBoundToItsName(t *testing.T) {
	t.Parallel()
	kr, ks := openNew(t, testOptions(t))
	h1, err := kr.NamedKeyset("audit-mac", mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	h2, err := kr.NamedKeyset("audit-mac", mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := mac.New(h1)
	m2, _ := mac.New(h2)
	tag, err := m1.ComputeMAC([]byte("record"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.VerifyMAC(tag, []byte("record")); err != nil {
		t.Errorf("second NamedKeyset call returned another key: %v", err)
	}
	// Copy the wrapped keyset under another name: it must not unwrap there.
	v, err := ks.Get([][]byte{[]byte("k/audit-mac")})
	if err != nil || v[0] == nil {
		t.Fatalf("wrapped keyset not at k/audit-mac: %v", err)
	}
	if err := ks.Apply([]kv.Op{{Key: []byte("k/other"), Value: v[0]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.NamedKeyset("other", mac.HMACSHA256Tag256KeyTemplate()); err == nil {
		t.Error("a keyset copied under another name unwrapped; it must be bound to its name")
	}
	if bytes.Contains(v[0], tag) {
		t.Error("tag found inside the wrapped keyset")
	}
}
