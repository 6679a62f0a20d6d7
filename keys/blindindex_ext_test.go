package keys_test

import (
	"regexp"
	"testing"

	"github.com/featurevault/featurevault/keys"
)

func TestBlindIndexSeparatesInputs(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	tests := []struct {
		name       string
		e1, k1     string
		e2, k2     string
		wantEquals bool
	}{
		{"same input is deterministic", "customer", "c-42", "customer", "c-42", true},
		{"other key", "customer", "c-42", "customer", "c-43", false},
		{"other entity, same key", "customer", "c-42", "driver", "c-42", false},
		{"entity/key boundary is unambiguous", "ab", "c", "a", "bc", false},
		{"empty key is a key", "customer", "", "customer", " ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b1, b2 := mustBI(t, k, tt.e1, tt.k1), mustBI(t, k, tt.e2, tt.k2)
			if got := b1 == b2; got != tt.wantEquals {
				t.Errorf("BlindIndex(%q,%q) == BlindIndex(%q,%q) is %v, want %v", tt.e1, tt.k1, tt.e2, tt.k2, got, tt.wantEquals)
			}
		})
	}
}

func TestBlindIndexIsKeyed(t *testing.T) {
	t.Parallel()
	k1, _ := openNew(t, testOptions(t))
	k2, _ := openNew(t, testOptions(t))
	if mustBI(t, k1, "customer", "c-42") == mustBI(t, k2, "customer", "c-42") {
		t.Errorf("two keystores derive the same blind index; want it keyed per keystore")
	}
}

func TestBlindIndexString(t *testing.T) {
	t.Parallel()
	bi := keys.BlindIndex{0x00, 0x01, 0xab, 0xff}
	if got, want := bi.String(), "0001abff000000000000000000000000"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(keys.BlindIndex{}.String()) {
		t.Errorf("String() of zero index is not 32 hex digits")
	}
}
