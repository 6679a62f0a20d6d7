package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/backup"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// backupPartsToProto names each part as AdminService.Backup does.
var backupPartsToProto = map[backup.Part]fvv1.BackupPart{
	backup.PartData:     fvv1.BackupPart_BACKUP_PART_DATA,
	backup.PartKeystore: fvv1.BackupPart_BACKUP_PART_KEYSTORE,
	backup.PartAudit:    fvv1.BackupPart_BACKUP_PART_AUDIT,
}

func newBackupCmd(c *client) *cobra.Command {
	var out, partList, since string
	cmd := &cobra.Command{
		Use:   "backup --out DIR [--part data,keystore,audit] [--since MANIFEST]",
		Short: "Back up the running server's store, part by part",
		Long: `Backup streams a consistent snapshot of each part of the running server's
store into DIR, with no downtime: PART.fvbackup per part, then
manifest.json (the parts, their Badger versions, sizes and SHA-256 digests,
the time, and the URI of the root key when it is in a real KMS; never key
material). Every file is mode 0600, written under a temporary name and
renamed; DIR must not hold a backup already.

The parts, each kept on its own retention:

  data      registry, ciphertext rows, subject records, policy, budgets
  audit     the hash-chained audit log (the auditors' retention)
  keystore  wrapped keys only: the KEK, blind-index and subject keys,
            useless without the root key in the KMS. But it keeps the keys
            of subjects erased since alive: keep keystore backups for less
            than the shred horizon, and data backups as long as you need.

The root key is never in a backup. With the local development KMS, copy
DIR/kms/root.json by hand and keep it apart from the backups: a restored
store does not open without it. With --kms, the root key stays in the KMS.

--since names the manifest.json (or directory) of an earlier backup: only
what changed after it is backed up (deletions included). Restore the full
backup, then each incremental one in order:
featurevault restore --from FULL --from INCR1 --from INCR2 --data NEWDIR.

Backup needs the backup action, which role admin holds by default; grant
it to a backup job's role with: featurevault policy grant ROLE --action
backup --on '*'. See docs/backup.md.`,
		Example: `  featurevault backup --out /backups/fv-2026-11-02
  featurevault backup --out /backups/keys-2026-11-02 --part keystore
  featurevault backup --out /backups/fv-2026-11-02T12 --since /backups/fv-2026-11-02`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errNoOut
			}
			parts, err := backup.ParseParts(partList)
			if err != nil {
				return fmt.Errorf("--part: %w", err)
			}
			prev := map[backup.Part]uint64{}
			if since != "" {
				m, err := backup.ReadManifest(since)
				if err != nil {
					return fmt.Errorf("--since: %w", err)
				}
				for _, p := range parts {
					a, ok := m.Part(p)
					if !ok {
						return fmt.Errorf("--since %s holds no %s part: back that part up in full (without --since), or leave it out with --part", since, p)
					}
					prev[p] = a.NextSince
				}
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			_, statErr := os.Stat(out)
			if err := backup.PrepareOutput(out); err != nil {
				return err
			}
			b := &backupRun{cmd: cmd, c: c, admin: admin, dir: out, createdDir: os.IsNotExist(statErr)}
			m := &backup.Manifest{Format: backup.FormatVersion, Created: time.Now().UTC()}
			for _, p := range parts {
				a, last, err := b.part(p, prev[p])
				if err != nil {
					b.undo()
					return err
				}
				m.Parts = append(m.Parts, a)
				m.KMSURI, m.LocalKMS = last.GetKmsUri(), last.GetLocalKms()
			}
			if err := backup.WriteManifest(out, m); err != nil {
				b.undo()
				return err
			}
			return writeBackupSummary(cmd.OutOrStdout(), out, m)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write the backup into (created, mode 0700; must hold no backup)")
	f.StringVar(&partList, "part", "data,keystore,audit", "parts to back up, comma-separated: data, keystore, audit")
	f.StringVar(&since, "since", "", "manifest.json (or directory) of an earlier backup: back up only what changed after it")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// backupRun is one backup command under way: what it has written so far,
// so that a failure can remove it.
type backupRun struct {
	cmd        *cobra.Command
	c          *client
	admin      adminClient
	dir        string
	createdDir bool
	written    []string
}

// part streams one part into its artifact, checks it against the size and
// SHA-256 the server computed, and commits it.
func (b *backupRun) part(p backup.Part, since uint64) (backup.Artifact, *fvv1.BackupResponse, error) {
	started := time.Now().UTC()
	// No --timeout: a backup of a large store takes minutes.
	stream, err := b.admin.Backup(b.cmd.Context(), connect.NewRequest(&fvv1.BackupRequest{Part: backupPartsToProto[p], Since: since}))
	if err != nil {
		return backup.Artifact{}, nil, b.c.explain(err)
	}
	defer stream.Close()
	w, err := backup.CreateArtifact(b.dir, p)
	if err != nil {
		return backup.Artifact{}, nil, err
	}
	var last *fvv1.BackupResponse
	for last == nil && stream.Receive() {
		msg := stream.Msg()
		if msg.GetFinished() {
			last = msg
			break
		}
		if _, err := w.Write(msg.GetChunk()); err != nil {
			w.Abort()
			return backup.Artifact{}, nil, fmt.Errorf("write the %s backup: %w", p, err)
		}
	}
	if err := stream.Err(); err != nil {
		w.Abort()
		if b.cmd.Context().Err() != nil {
			return backup.Artifact{}, nil, fmt.Errorf("backup of %s interrupted; nothing was kept: run it again", p)
		}
		return backup.Artifact{}, nil, fmt.Errorf("back up %s: %w", p, b.c.explain(err))
	}
	switch {
	case last == nil:
		w.Abort()
		return backup.Artifact{}, nil, fmt.Errorf("the server ended the %s backup without its last message; run the backup again", p)
	case last.GetSize() != w.Size() || last.GetSha256() != w.SHA256():
		w.Abort()
		return backup.Artifact{}, nil, fmt.Errorf("the %s backup arrived damaged: %d bytes with another SHA-256 than the %d bytes the server sent; run the backup again", p, w.Size(), last.GetSize())
	}
	if err := w.Commit(); err != nil {
		return backup.Artifact{}, nil, err
	}
	b.written = append(b.written, p.File())
	return backup.Artifact{
		Part: p, File: p.File(), Since: since, NextSince: last.GetNextSince(),
		Size: w.Size(), SHA256: w.SHA256(), Created: started,
	}, last, nil
}

// undo removes the artifacts a failed backup wrote, and its directory if
// it created it, so that a failed backup leaves nothing that looks like one.
func (b *backupRun) undo() {
	for _, name := range b.written {
		_ = os.Remove(filepath.Join(b.dir, name))
	}
	if b.createdDir {
		_ = os.Remove(b.dir) // only when empty
	}
}

// writeBackupSummary prints one line per part and what is left to do.
func writeBackupSummary(w io.Writer, dir string, m *backup.Manifest) error {
	for _, a := range m.Parts {
		kind := "full"
		if a.Since > 0 {
			kind = fmt.Sprintf("incremental after version %d", a.Since)
		}
		size := int64(min(a.Size, math.MaxInt64)) // #nosec G115 -- clamped to int64
		if _, err := fmt.Fprintf(w, "%s: %s bytes, %s, sha256 %s (next --since version %d)\n", a.Part, group(size), kind, a.SHA256, a.NextSince); err != nil {
			return err
		}
	}
	var note string
	if m.LocalKMS {
		note = "\nThe root key is not in the backup: this server uses the local development KMS, so keep a copy of its DATA/kms/root.json apart from the backups; a restore needs it."
	}
	_, err := fmt.Fprintf(w, "wrote %d parts and %s to %s%s\n", len(m.Parts), backup.ManifestFile, dir, note)
	return err
}

// errNoOut is returned when --out is empty.
var errNoOut = errors.New("give the directory to write the backup into with --out DIR")
