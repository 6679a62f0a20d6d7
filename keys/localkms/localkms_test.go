package localkms_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/keys/localkms"
)

func TestPathOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		uri, want string
		wantErr   bool
	}{
		{"local:///var/lib/fv/root.json", "/var/lib/fv/root.json", false},
		{"local:///var/lib/fv/../fv/root.json", "/var/lib/fv/root.json", false},
		{"local://root.json", "", true},
		{"local://", "", true},
		{"aws-kms://arn:aws:kms:eu-west-1:1:key/x", "", true},
		{"/var/lib/fv/root.json", "", true},
	}
	for _, tt := range tests {
		got, err := localkms.PathOf(tt.uri)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("PathOf(%q) = %q, %v; want %q, error %v", tt.uri, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSupported(t *testing.T) {
	t.Parallel()
	c := localkms.NewClient()
	for uri, want := range map[string]bool{"local:///r.json": true, "hcvault://k": false, "": false} {
		if got := c.Supported(uri); got != want {
			t.Errorf("Supported(%q) = %v, want %v", uri, got, want)
		}
	}
}

func TestCreateThenGetAEAD(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new", "root.json")
	if err := localkms.Create(path); err != nil {
		t.Fatalf("Create: %v", err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | fs.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %v, want %v", p, fi.Mode(), want)
		}
	}
	a, err := localkms.NewClient().GetAEAD(localkms.Prefix + path)
	if err != nil {
		t.Fatalf("GetAEAD: %v", err)
	}
	ct, err := a.Encrypt([]byte("kek"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	// A second client reading the same file gets the same key.
	b, err := localkms.NewClient().GetAEAD(localkms.Prefix + path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Decrypt(ct, []byte("ad")); err != nil || string(got) != "kek" {
		t.Errorf("Decrypt with the file re-read = %q, %v; want %q, nil", got, err, "kek")
	}
}

func TestCreateNeverOverwrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "root.json")
	if err := localkms.Create(path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	err := localkms.Create(path)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("second Create: err %v; want fs.ErrExist naming %s", err, path)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("second Create changed the file")
	}
}

func TestGetAEADErrorsNamePathNotContents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	prfKeyset := `{"primaryKeyId":1,"key":[{"keyData":{"typeUrl":"type.googleapis.com/google.crypto.tink.HmacPrfKey","value":"EgIIAxogc2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","keyMaterialType":"SYMMETRIC"},"status":"ENABLED","keyId":1,"outputPrefixType":"RAW"}]}`
	tests := []struct {
		name, path, secret string
		want               error
	}{
		{"missing", filepath.Join(dir, "absent.json"), "", localkms.ErrRootMissing},
		{"not JSON", write("garbage.json", "c2VjcmV0{{"), "c2VjcmV0", localkms.ErrRootCorrupt},
		{"not an AEAD keyset", write("prf.json", prfKeyset), "EgIIAxog", localkms.ErrRootCorrupt},
	}
	for _, tt := range tests {
		_, err := localkms.NewClient().GetAEAD(localkms.Prefix + tt.path)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.path) {
			t.Errorf("%s: err %q does not name %s", tt.name, err, tt.path)
		}
		if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
			t.Errorf("%s: err %q quotes the file's contents", tt.name, err)
		}
	}
}
