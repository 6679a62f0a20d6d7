package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PrepareOutput creates the backup directory dir (mode 0700) if needed and
// checks that it holds no backup yet, so that a backup never overwrites or
// mixes with another one (ErrOutputExists).
func PrepareOutput(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup: create %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("backup: read %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.Name() == ManifestFile || strings.HasSuffix(e.Name(), ".fvbackup") {
			return fmt.Errorf("%w: %s holds %s", ErrOutputExists, dir, e.Name())
		}
	}
	return nil
}

// ArtifactWriter writes one part's artifact into a backup directory: to a
// temporary file (mode 0600) while counting and hashing it, then, on
// Commit, synced and renamed into place. Until Commit, the directory holds
// no file under the artifact's name.
type ArtifactWriter struct {
	a *atomicFile
}

// CreateArtifact starts the artifact of part p in the backup directory dir.
func CreateArtifact(dir string, p Part) (*ArtifactWriter, error) {
	f, err := createAtomic(dir, p.File())
	if err != nil {
		return nil, err
	}
	return &ArtifactWriter{f}, nil
}

// Write implements io.Writer.
func (w *ArtifactWriter) Write(p []byte) (int, error) { return w.a.Write(p) }

// Size returns the number of bytes written so far.
func (w *ArtifactWriter) Size() uint64 { return w.a.size }

// SHA256 returns the hex SHA-256 of the bytes written so far.
func (w *ArtifactWriter) SHA256() string { return hex.EncodeToString(w.a.sum.Sum(nil)) }

// Commit syncs the artifact and renames it into place. Check Size and
// SHA256 against what the server reported before committing.
func (w *ArtifactWriter) Commit() error { return w.a.Commit() }

// Abort discards the artifact; the directory is left as it was.
func (w *ArtifactWriter) Abort() { w.a.Abort() }

// atomicFile is a file written under a temporary name in its directory and
// renamed to its final name by Commit.
type atomicFile struct {
	f     *os.File
	final string
	sum   hash.Hash
	size  uint64
}

func createAtomic(dir, name string) (*atomicFile, error) {
	final := filepath.Join(dir, name)
	if _, err := os.Lstat(final); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s exists", ErrOutputExists, final)
	}
	f, err := os.CreateTemp(dir, "."+name+".tmp-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("backup: create %s: %w", final, err)
	}
	return &atomicFile{f: f, final: final, sum: sha256.New()}, nil
}

func (a *atomicFile) Write(p []byte) (int, error) {
	n, err := a.f.Write(p)
	a.sum.Write(p[:n])
	a.size += uint64(n) // #nosec G115 -- a byte count from Write: never negative
	return n, err
}

// Commit syncs the file, renames it to its final name and syncs the
// directory, so that the file survives a crash once Commit returns.
func (a *atomicFile) Commit() error {
	err := a.f.Sync()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.final)
	}
	if err != nil {
		_ = os.Remove(a.f.Name())
		return fmt.Errorf("backup: write %s: %w", a.final, err)
	}
	return syncDir(filepath.Dir(a.final))
}

// Abort discards the temporary file.
func (a *atomicFile) Abort() {
	_ = a.f.Close()
	_ = os.Remove(a.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a directory this package writes into
	if err != nil {
		return fmt.Errorf("backup: sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: sync %s: %w", dir, err)
	}
	return nil
}
