package localkms

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// Create writes a fresh AES256-GCM root keyset (TINK output prefix, so that
// versions stay distinguishable after a root rotation) to path as cleartext
// JSON. The file is created with O_EXCL and mode 0600, its directory (when
// missing) with mode 0700. Create never overwrites: if path exists it returns
// an error wrapping fs.ErrExist, because replacing a root key makes everything
// wrapped by the old one unreadable.
func Create(path string) (err error) {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("localkms: root keyset path %q is not absolute", path)
	}
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return fmt.Errorf("localkms: generate root keyset: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("localkms: create directory for root keyset: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator-configured local:// root key path
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("localkms: root keyset file %s already exists; refusing to overwrite it: %w", path, err)
		}
		return fmt.Errorf("localkms: create root keyset file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(path) // never leave a half-written root behind
		}
	}()
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(f)); err != nil {
		return fmt.Errorf("localkms: write root keyset file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("localkms: sync root keyset file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("localkms: close root keyset file: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes the new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the directory of the operator-configured root key
	if err != nil {
		return fmt.Errorf("localkms: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("localkms: sync directory: %w", err)
	}
	return nil
}
