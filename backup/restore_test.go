package backup_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/backup"
)

func TestRestoreLoadsAFullBackupAndItsIncrementalsIntoEachPartsDirectory(t *testing.T) {
	t.Parallel()
	src := newSource(t)
	src.set(t, backup.PartData, "r/1", "row one", "r/2", "row two")
	src.set(t, backup.PartKeystore, "k/1", "wrapped one")
	src.set(t, backup.PartAudit, "a/1", "record one")
	full, fm := src.backUp(t, nil)
	src.set(t, backup.PartData, "r/3", "row three")
	src.set(t, backup.PartKeystore, "k/2", "wrapped two")
	incr, im := src.backUp(t, fm)

	target := filepath.Join(t.TempDir(), "restored")
	rep, err := backup.Restore(t.Context(), []string{full, incr}, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[backup.Part]map[string]string{
		backup.PartData:     {"r/1": "row one", "r/2": "row two", "r/3": "row three"},
		backup.PartKeystore: {"k/1": "wrapped one", "k/2": "wrapped two"},
		backup.PartAudit:    {"a/1": "record one"},
	}
	for p, w := range want {
		if got := contents(t, filepath.Join(target, string(p))); !maps.Equal(got, w) {
			t.Errorf("restored %s holds %v; want %v", p, got, w)
		}
	}
	if len(rep.Parts) != 3 {
		t.Fatalf("report lists %d parts; want 3", len(rep.Parts))
	}
	for _, r := range rep.Parts {
		a, _ := im.Part(r.Part)
		if r.Backups != 2 || r.NextSince != a.NextSince {
			t.Errorf("report for %s: %d backups, next since %d; want 2 and %d", r.Part, r.Backups, r.NextSince, a.NextSince)
		}
	}
	if !rep.LocalKMS || !rep.RootKeyMissing {
		t.Errorf("report: local KMS %v, root key missing %v; want both true (the backup was made with the local KMS and no root.json was copied)", rep.LocalKMS, rep.RootKeyMissing)
	}
	st, err := os.Stat(filepath.Join(target, "data"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("restored data directory: %v, mode %v; want mode 0700", err, st.Mode().Perm())
	}
}

func TestRestoreRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	src := newSource(t)
	src.set(t, backup.PartData, "r/1", "row one")
	src.set(t, backup.PartKeystore, "k/1", "wrapped one")
	src.set(t, backup.PartAudit, "a/1", "record one")
	full, fm := src.backUp(t, nil)
	src.set(t, backup.PartData, "r/2", "row two")
	incr, _ := src.backUp(t, fm)

	// copyBackup copies full into a new directory and lets change alter it.
	copyBackup := func(t *testing.T, change func(dir string)) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "copy")
		if err := os.CopyFS(dir, os.DirFS(full)); err != nil {
			t.Fatal(err)
		}
		change(dir)
		return dir
	}
	rewrite := func(t *testing.T, path string, edit func([]byte) []byte) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, edit(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		chain   func(t *testing.T) []string
		target  func(t *testing.T, dir string) // prepares the target
		parts   []backup.Part
		wantErr error
		wantMsg string
	}{
		{
			name: "an artifact byte changed",
			chain: func(t *testing.T) []string {
				return []string{copyBackup(t, func(dir string) {
					rewrite(t, filepath.Join(dir, "audit.fvbackup"), func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
				})}
			},
			wantErr: backup.ErrChecksum, wantMsg: "audit.fvbackup",
		},
		{
			name: "an artifact is missing",
			chain: func(t *testing.T) []string {
				return []string{copyBackup(t, func(dir string) { _ = os.Remove(filepath.Join(dir, "keystore.fvbackup")) })}
			},
			wantErr: backup.ErrChecksum, wantMsg: "missing",
		},
		{
			name: "no manifest",
			chain: func(t *testing.T) []string {
				return []string{copyBackup(t, func(dir string) { _ = os.Remove(filepath.Join(dir, backup.ManifestFile)) })}
			},
			wantErr: backup.ErrNoManifest, wantMsg: "manifest.json",
		},
		{
			name: "a manifest that names a file outside its directory",
			chain: func(t *testing.T) []string {
				return []string{copyBackup(t, func(dir string) {
					rewrite(t, filepath.Join(dir, backup.ManifestFile), func(b []byte) []byte {
						return []byte(strings.Replace(string(b), `"file": "data.fvbackup"`, `"file": "../data.fvbackup"`, 1))
					})
				})}
			},
			wantErr: backup.ErrBadManifest, wantMsg: "../data.fvbackup",
		},
		{
			name:    "the target part directory is not empty",
			chain:   func(*testing.T) []string { return []string{full} },
			target:  func(t *testing.T, dir string) { mkfile(t, filepath.Join(dir, "keystore", "MANIFEST")) },
			wantErr: backup.ErrTargetNotEmpty, wantMsg: "keystore",
		},
		{
			name:    "an incremental backup without its full one",
			chain:   func(*testing.T) []string { return []string{incr} },
			wantErr: backup.ErrBrokenChain, wantMsg: "not a full one",
		},
		{
			name:    "incremental backups out of order",
			chain:   func(*testing.T) []string { return []string{full, incr, incr} },
			wantErr: backup.ErrBrokenChain, wantMsg: "starts after version",
		},
		{
			name: "a part the backup does not hold",
			chain: func(t *testing.T) []string {
				return []string{copyBackup(t, func(dir string) {
					m, err := backup.ReadManifest(dir)
					if err != nil {
						t.Fatal(err)
					}
					m.Parts = m.Parts[:1] // data only
					_ = os.Remove(filepath.Join(dir, backup.ManifestFile))
					if err := backup.WriteManifest(dir, m); err != nil {
						t.Fatal(err)
					}
				})}
			},
			parts:   []backup.Part{backup.PartKeystore},
			wantErr: backup.ErrPartMissing, wantMsg: "no keystore part",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := filepath.Join(t.TempDir(), "restored")
			if tt.target != nil {
				tt.target(t, target)
			}
			before := tree(t, target)
			_, err := backup.Restore(t.Context(), tt.chain(t), target, tt.parts)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Restore: err %v; want %v naming %q", err, tt.wantErr, tt.wantMsg)
			}
			if after := tree(t, target); !sameTree(before, after) {
				t.Errorf("a refused Restore changed the target: before %v, after %v", before, after)
			}
		})
	}
}

func TestRestoreOfOnePartLeavesTheOthersAlone(t *testing.T) {
	t.Parallel()
	src := newSource(t)
	src.set(t, backup.PartData, "r/1", "old row")
	src.set(t, backup.PartKeystore, "k/1", "old key")
	full, _ := src.backUp(t, nil)
	target := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(t.Context(), []string{full}, target, []backup.Part{backup.PartData}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(target)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "data" {
		t.Errorf("target after restoring data only holds %v; want only data", entries)
	}
	if _, err := backup.Restore(t.Context(), []string{full}, target, []backup.Part{backup.PartData}); !errors.Is(err, backup.ErrTargetNotEmpty) {
		t.Errorf("second restore of data into the same target: err %v; want ErrTargetNotEmpty", err)
	}
	if _, err := backup.Restore(t.Context(), []string{full}, target, []backup.Part{backup.PartKeystore}); err != nil {
		t.Errorf("restore of the keystore beside the restored data: %v", err)
	}
	if got := contents(t, filepath.Join(target, "keystore")); got["k/1"] != "old key" {
		t.Errorf("restored keystore holds %v; want k/1", got)
	}
}

func mkfile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}
