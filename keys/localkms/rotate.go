package localkms

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// RootInfo describes the versions in a root keyset file: key IDs only, never
// key material.
type RootInfo struct {
	Primary  uint32   // key ID of the version that wraps new ciphertexts
	Versions []uint32 // every version's key ID, in file order
}

// Info reads the root keyset file at path and lists its versions.
func Info(path string) (RootInfo, error) {
	h, err := readHandle(path)
	if err != nil {
		return RootInfo{}, err
	}
	ki := h.KeysetInfo()
	out := RootInfo{Primary: ki.GetPrimaryKeyId()}
	for _, k := range ki.GetKeyInfo() {
		out.Versions = append(out.Versions, k.GetKeyId())
	}
	return out, nil
}

// Rotate adds a fresh AES256-GCM version to the root keyset file at path and
// makes it the primary: what the root wraps from now on names the new
// version, and everything wrapped by the older versions still unwraps until
// Prune destroys them. It returns the new version's key ID.
//
// The file is replaced atomically (a new file in the same directory, synced,
// then renamed over the old one), so a crash leaves either the old keyset or
// the new one, never a mix.
func Rotate(path string) (uint32, error) {
	h, err := readHandle(path)
	if err != nil {
		return 0, err
	}
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return 0, fmt.Errorf("localkms: add a root key version: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return 0, fmt.Errorf("localkms: make the new root key version primary: %w", err)
	}
	nh, err := m.Handle()
	if err != nil {
		return 0, fmt.Errorf("localkms: build the rotated root keyset: %w", err)
	}
	if err := replace(path, nh); err != nil {
		return 0, err
	}
	return id, nil
}

// Prune destroys every version of the root keyset file at path but the
// primary, and returns how many it destroyed. Whatever an older version
// wrapped — including copies in backups — no longer unwraps with this file.
// Call it only once everything the caller still needs is wrapped by the
// primary. Like Rotate, it replaces the file atomically.
func Prune(path string) (int, error) {
	h, err := readHandle(path)
	if err != nil {
		return 0, err
	}
	ki := h.KeysetInfo()
	m := keyset.NewManagerFromHandle(h)
	n := 0
	for _, k := range ki.GetKeyInfo() {
		if k.GetKeyId() == ki.GetPrimaryKeyId() {
			continue
		}
		if err := m.Delete(k.GetKeyId()); err != nil {
			return 0, fmt.Errorf("localkms: destroy root key version %d: %w", k.GetKeyId(), err)
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	nh, err := m.Handle()
	if err != nil {
		return 0, fmt.Errorf("localkms: build the pruned root keyset: %w", err)
	}
	return n, replace(path, nh)
}

// readHandle reads the cleartext root keyset at path. Errors name the path,
// never the file's contents.
func readHandle(path string) (*keyset.Handle, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator-configured local:// root key path
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%w: %s", ErrRootMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("localkms: read root keyset file: %w", err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrRootCorrupt, path)
	}
	return h, nil
}

// replace writes h to path atomically with mode 0600: a temporary file in
// the same directory, synced, renamed over path, and the directory synced.
func replace(path string, h *keyset.Handle) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".root-*.json")
	if err != nil {
		return fmt.Errorf("localkms: create a temporary root keyset file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("localkms: set mode of the temporary root keyset file: %w", err)
	}
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(f)); err != nil {
		return fmt.Errorf("localkms: write root keyset file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("localkms: sync root keyset file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("localkms: close root keyset file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("localkms: replace root keyset file %s: %w", path, err)
	}
	return syncDir(dir)
}
