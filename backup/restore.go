package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/featurevault/featurevault/kv"
)

// RestoredPart says what Restore loaded into one part's directory.
type RestoredPart struct {
	Part Part
	Dir  string
	// Backups is how many artifacts were loaded: the full one, then each
	// incremental one.
	Backups int
	Bytes   uint64
	// NextSince is the since of the next incremental backup of a store
	// served from Dir.
	NextSince uint64
}

// RestoreReport says what Restore did and what is left to do by hand.
type RestoreReport struct {
	Parts []RestoredPart
	// KMSURI and LocalKMS are the last manifest's: serve the restored store
	// with --kms KMSURI, or, for the local development KMS, with its root
	// file copied to DIR/kms/root.json.
	KMSURI   string
	LocalKMS bool
	// RootKeyMissing is set when the backup was made with the local KMS and
	// the target has no kms/root.json yet: the store will not open until the
	// original root file is copied there.
	RootKeyMissing bool
}

// Restore loads backups into the store directory target, which must not be
// served meanwhile. chain is a full backup directory followed by its
// incremental backups in the order they were made; parts are the parts to
// restore (nil: every part of the full backup). Each part goes to
// target/PART (target/data, target/keystore, target/audit).
//
// Before it writes anything, Restore reads every manifest, checks that
// each holds every part asked for and that the chain is unbroken, refuses
// any target part directory that is not empty (ErrTargetNotEmpty), and
// checks every artifact's size and SHA-256 against its manifest
// (ErrChecksum). If loading then fails, it removes what it loaded, leaving
// the target as it found it.
//
// Restore never restores the root key: a backup made with the local
// development KMS needs its kms/root.json copied by hand (RootKeyMissing
// says so), and one made with a real KMS needs access to the key its URI
// names.
func Restore(ctx context.Context, chain []string, target string, parts []Part) (RestoreReport, error) {
	var rep RestoreReport
	if len(chain) == 0 {
		return rep, errors.New("backup: no backup to restore from; give its directory")
	}
	if target == "" {
		return rep, errors.New("backup: no directory to restore into; give a new one")
	}
	manifests := make([]*Manifest, len(chain))
	for i, dir := range chain {
		m, err := ReadManifest(dir)
		if err != nil {
			return rep, err
		}
		manifests[i] = m
	}
	if parts == nil {
		for _, p := range Parts() {
			if _, ok := manifests[0].Part(p); ok {
				parts = append(parts, p)
			}
		}
	}
	plan, err := planRestore(chain, manifests, parts)
	if err != nil {
		return rep, err
	}
	for _, p := range parts {
		if err := checkEmpty(filepath.Join(target, string(p))); err != nil {
			return rep, err
		}
	}
	for _, steps := range plan {
		for _, s := range steps {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			if err := verifyFile(s.path, s.art); err != nil {
				return rep, err
			}
		}
	}
	undo := undoer{target: target, targetExisted: dirExists(target)}
	for i, p := range parts {
		dir := filepath.Join(target, string(p))
		undo.note(dir)
		r, err := loadPart(ctx, dir, p, plan[i])
		if err != nil {
			undo.run()
			return RestoreReport{}, err
		}
		rep.Parts = append(rep.Parts, r)
	}
	last := manifests[len(manifests)-1]
	rep.KMSURI, rep.LocalKMS = last.KMSURI, last.LocalKMS
	if rep.LocalKMS {
		_, err := os.Stat(filepath.Join(target, "kms", "root.json"))
		rep.RootKeyMissing = errors.Is(err, fs.ErrNotExist)
	}
	return rep, nil
}

// undoer puts the target back as Restore found it: part directories that
// were empty are emptied again, those it created are removed, and so is the
// target if Restore created it.
type undoer struct {
	target        string
	targetExisted bool
	dirs          []string
	existed       []bool
}

func (u *undoer) note(dir string) {
	u.dirs = append(u.dirs, dir)
	u.existed = append(u.existed, dirExists(dir))
}

func (u *undoer) run() {
	for i, d := range u.dirs {
		_ = os.RemoveAll(d)
		if u.existed[i] {
			_ = os.Mkdir(d, 0o700)
		}
	}
	if !u.targetExisted {
		_ = os.Remove(u.target) // only if empty: nothing else was there
	}
}

// restoreStep is one artifact to load.
type restoreStep struct {
	path string
	art  Artifact
}

// planRestore returns, per part, the artifacts to load in order, checking
// that every backup of the chain holds the part and that each incremental
// backup starts where the one before it ended.
func planRestore(chain []string, manifests []*Manifest, parts []Part) ([][]restoreStep, error) {
	plan := make([][]restoreStep, len(parts))
	for i, p := range parts {
		for j, m := range manifests {
			a, ok := m.Part(p)
			if !ok {
				return nil, fmt.Errorf("%w: %s holds no %s part; choose the parts to restore with --part", ErrPartMissing, chain[j], p)
			}
			switch {
			case j == 0 && a.Since != 0:
				return nil, fmt.Errorf("%w: %s is an incremental %s backup (since version %d), not a full one", ErrBrokenChain, chain[j], p, a.Since)
			case j > 0 && a.Since != plan[i][j-1].art.NextSince:
				return nil, fmt.Errorf("%w: the %s part of %s starts after version %d, but the backup before it ends at %d", ErrBrokenChain, p, chain[j], a.Since, plan[i][j-1].art.NextSince)
			}
			plan[i] = append(plan[i], restoreStep{path: filepath.Join(chain[j], a.File), art: a})
		}
	}
	return plan, nil
}

// checkEmpty refuses a directory that exists and holds anything.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("backup: read target %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%w: %s holds %d entries", ErrTargetNotEmpty, dir, len(entries))
	}
	return nil
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}

// verifyFile checks an artifact's size and SHA-256 against the manifest.
func verifyFile(path string, a Artifact) error {
	f, err := os.Open(path) // #nosec G304 -- an artifact named by a checked manifest
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s is missing", ErrChecksum, path)
	}
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("backup: read %s: %w", path, err)
	}
	if uint64(n) != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 { // #nosec G115 -- io.Copy counts bytes read: never negative
		return fmt.Errorf("%w: %s (%d bytes)", ErrChecksum, path, n)
	}
	return nil
}

// loadPart creates dir and loads the steps' artifacts into a Badger
// database there, hashing each again as it is read, so that a file changed
// since verifyFile is caught.
func loadPart(ctx context.Context, dir string, p Part, steps []restoreStep) (RestoredPart, error) {
	r := RestoredPart{Part: p, Dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return r, fmt.Errorf("backup: create %s: %w", dir, err)
	}
	db, err := kv.OpenBadger(kv.DefaultOptions(dir).WithSyncWrites(false))
	if err != nil {
		return r, err
	}
	for _, s := range steps {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = loadFile(db, s); err != nil {
			break
		}
		r.Backups++
		r.Bytes += s.art.Size
		r.NextSince = s.art.NextSince
	}
	if err == nil {
		err = db.Sync()
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("backup: close %s: %w", dir, cerr)
	}
	return r, err
}

func loadFile(db *kv.Badger, s restoreStep) error {
	f, err := os.Open(s.path) // #nosec G304 -- an artifact named by a checked manifest
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", s.path, err)
	}
	defer f.Close()
	h := sha256.New()
	if err := db.Load(io.TeeReader(f, h)); err != nil {
		return fmt.Errorf("backup: load %s: %w", s.path, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != s.art.SHA256 {
		return fmt.Errorf("%w: %s changed while it was restored", ErrChecksum, s.path)
	}
	return nil
}
