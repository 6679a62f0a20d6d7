package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/store"
)

func TestValidateNameAcceptsPolicySafeNames(t *testing.T) {
	t.Parallel()
	tests := []struct{ what, name string }{
		{"view", "customer_profile"},
		{"field", "a"},
		{"field", "f2_x9"},
		{"entity", strings.Repeat("a", store.MaxNameLen)},
		{"tag", "pii"},
		{"tag", "team.risk-daily_2"},
	}
	for _, tc := range tests {
		if err := store.ValidateName(tc.what, tc.name); err != nil {
			t.Errorf("ValidateName(%q, %q) = %v, want nil", tc.what, tc.name, err)
		}
	}
}

func TestValidateNameRefusesAndSaysWhichCharacter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		what, name string
		want       string
	}{
		{"view", "", "view name is empty; give it a name such as customer_profile"},
		{"field", "a,b", "a comma at position 2"},
		{"field", `a"b`, "a quote at position 2"},
		{"field", "a'b", "a quote at position 2"},
		{"field", "a\nb", "a newline at position 2"},
		{"field", "a b", "a space at position 2"},
		{"field", "a\tb", "a tab at position 2"},
		{"view", "aB", "upper-case letter 'B'"},
		{"view", "Ab", "must start with a lower-case letter a-z, not the upper-case letter 'A'"},
		{"view", "_a", "must start with a lower-case letter"},
		{"view", "9a", "must start with a lower-case letter"},
		{"view", "a/b", "a slash at position 2"},
		{"view", "a.b", "a dot (use _ instead)"},
		{"view", "a-b", "a hyphen (use _ instead)"},
		{"view", "a*", "the character '*' at position 2"},
		{"view", "aé", "a non-ASCII character at position 2"},
		{"view", "a\x00", "a control character"},
		{"tag", "pii:x", "the character ':' at position 4; use only a-z, 0-9, _, . and -"},
		{"tag", ".pii", "must start with a lower-case letter"},
		{"entity", strings.Repeat("a", store.MaxNameLen+1), "64 bytes long; use at most 63"},
	}
	for _, tc := range tests {
		err := store.ValidateName(tc.what, tc.name)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("ValidateName(%q, %q) = %v, want ErrInvalid", tc.what, tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateName(%q, %q) = %q\nwant it to contain %q", tc.what, tc.name, err, tc.want)
		}
	}
}

func TestCanonicalEntityKey(t *testing.T) {
	t.Parallel()
	str := &store.Entity{Name: "customer", JoinKey: "customer_id", KeyType: store.KeyString}
	num := &store.Entity{Name: "merchant", JoinKey: "merchant_id", KeyType: store.KeyInt64}
	tests := []struct {
		e    *store.Entity
		key  string
		want string
	}{
		{str, "c-42", "c-42"},
		{str, " spaced key ", " spaced key "},
		{str, "é€😀", "é€😀"},
		{str, strings.Repeat("k", store.MaxEntityKeyLen), strings.Repeat("k", store.MaxEntityKeyLen)},
		{num, "42", "42"},
		{num, "+42", "42"},
		{num, "0042", "42"},
		{num, "-7", "-7"},
		{num, "-0", "0"},
		{num, "9223372036854775807", "9223372036854775807"},
		{num, "-9223372036854775808", "-9223372036854775808"},
	}
	for _, tc := range tests {
		got, err := store.CanonicalEntityKey(tc.e, tc.key)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalEntityKey(%s, %q) = %q, %v; want %q", tc.e.KeyType, tc.key, got, err, tc.want)
		}
	}
}

func TestCanonicalEntityKeyRefusesWithoutEchoingTheKey(t *testing.T) {
	t.Parallel()
	str := &store.Entity{Name: "customer", JoinKey: "customer_id", KeyType: store.KeyString}
	num := &store.Entity{Name: "merchant", JoinKey: "merchant_id", KeyType: store.KeyInt64}
	const secret = "SECRET"
	tests := []struct {
		name string
		e    *store.Entity
		key  string
		want string
	}{
		{"empty", str, "", "key is empty"},
		{"too long", str, secret + strings.Repeat("k", store.MaxEntityKeyLen), "262 bytes long; use at most 256"},
		{"invalid UTF-8", str, secret + "\xff", "not valid UTF-8 at byte offset 6"},
		{"control character", str, secret + "\n", "control character at byte offset 6"},
		{"C1 control character", str, secret + "\u0085", "control character at byte offset 6"},
		{"not a number", num, secret, "(6 bytes) is not a decimal int64"},
		{"spaces", num, " 7319", "not a decimal int64"},
		{"hex", num, "0x" + secret, "not a decimal int64"},
		{"float", num, "4.2", "not a decimal int64"},
		{"overflow", num, "9223372036854775808", "outside the int64 range"},
		{"unknown key type", &store.Entity{Name: "x", KeyType: 9}, secret, "unknown key type"},
		{"no entity", nil, secret, "without an entity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := store.CanonicalEntityKey(tc.e, tc.key)
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("CanonicalEntityKey = %q, %v; want ErrInvalid", got, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.key != "" && strings.Contains(err.Error(), tc.key) || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q echoes the key", err)
			}
		})
	}
}
