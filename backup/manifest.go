package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// ManifestFile is the manifest's name in a backup directory.
const ManifestFile = "manifest.json"

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// Manifest describes a backup directory. It holds no key material: the
// KMS URI names where the root key is, never the key.
type Manifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	// KMSURI is the URI of the root key that wraps the KEK, when it is in a
	// real KMS; empty for the local development KMS (LocalKMS), whose root
	// file is not in the backup.
	KMSURI   string     `json:"kms_uri,omitempty"`
	LocalKMS bool       `json:"local_kms"`
	Parts    []Artifact `json:"parts"`
}

// Artifact describes one part's file in a backup directory.
type Artifact struct {
	Part Part   `json:"part"`
	File string `json:"file"`
	// Since is the Badger version the backup starts after: 0 for a full
	// backup, else the NextSince of the backup it follows.
	Since uint64 `json:"since"`
	// NextSince is the Badger version to start the next incremental backup
	// of this part after (featurevault backup --since this manifest).
	NextSince uint64    `json:"next_since"`
	Size      uint64    `json:"size"`
	SHA256    string    `json:"sha256"`
	Created   time.Time `json:"created"`
}

// Part returns the artifact of part p, if the backup holds one.
func (m *Manifest) Part(p Part) (Artifact, bool) {
	for _, a := range m.Parts {
		if a.Part == p {
			return a, true
		}
	}
	return Artifact{}, false
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// check validates what Restore relies on: known parts, each once, under
// their own file names (so that no manifest can point outside its
// directory), and well-formed digests.
func (m *Manifest) check() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("%w: format %d, want %d (written by another version of featurevault?)", ErrBadManifest, m.Format, FormatVersion)
	}
	seen := map[Part]bool{}
	for _, a := range m.Parts {
		if _, err := ParsePart(string(a.Part)); err != nil || seen[a.Part] {
			return fmt.Errorf("%w: part %q is unknown or listed twice", ErrBadManifest, a.Part)
		}
		seen[a.Part] = true
		if a.File != a.Part.File() {
			return fmt.Errorf("%w: part %s names file %q, want %q", ErrBadManifest, a.Part, a.File, a.Part.File())
		}
		if !hexSHA256.MatchString(a.SHA256) {
			return fmt.Errorf("%w: part %s has no valid sha256", ErrBadManifest, a.Part)
		}
	}
	if len(m.Parts) == 0 {
		return fmt.Errorf("%w: it lists no parts", ErrBadManifest)
	}
	return nil
}

// ReadManifest reads and checks the manifest of the backup directory dir,
// or of the manifest file dir names. A missing manifest is ErrNoManifest.
func ReadManifest(dir string) (*Manifest, error) {
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, ManifestFile)
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the backup to read
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (looked for %s)", ErrNoManifest, path)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadManifest, path, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// WriteManifest writes m to dir/manifest.json, mode 0600, atomically: a
// temporary file, synced, then renamed. Write it last, once every artifact
// it names is in place: its presence marks a complete backup.
func WriteManifest(dir string, m *Manifest) error {
	if err := m.check(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: encode manifest: %w", err)
	}
	w, err := createAtomic(dir, ManifestFile)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		w.Abort()
		return fmt.Errorf("backup: write manifest: %w", err)
	}
	return w.Commit()
}
