package main

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/backup"
)

func newRestoreCmd() *cobra.Command {
	var (
		from     []string
		data     string
		partList string
	)
	cmd := &cobra.Command{
		Use:   "restore --from DIR [--from INCR ...] --data NEWDIR [--part data,keystore,audit]",
		Short: "Restore a backup into a new data directory (offline)",
		Long: `Restore loads a backup written by "featurevault backup" into the data
directory NEWDIR, for a server that is not running on it: each part into
NEWDIR/data, NEWDIR/keystore and NEWDIR/audit.

Before it writes anything, restore reads each manifest.json, checks every
artifact's size and SHA-256 against it, and refuses a target part
directory that is not empty; a refused restore changes nothing.

Give the full backup first, then each incremental one (backup --since) in
the order they were made, with one --from each. --part restores some parts
only, so that parts kept on different retentions can be combined: the data
of one backup with the keystore of a later one, for instance.

The root key is not in backups. For a store that used the local
development KMS, copy its kms/root.json to NEWDIR/kms/root.json (mode 0600)
before serving; for a real KMS, serve NEWDIR with the same --kms. The
bootstrap admin token is not in backups either: the tokens of the restored
principals keep working. Then: featurevault serve --data NEWDIR.
See docs/backup.md for a restore drill.`,
		Example: `  featurevault restore --from /backups/fv-2026-11-02 --data /srv/fv-restored
  cp /secure/kms/root.json /srv/fv-restored/kms/root.json
  featurevault serve --data /srv/fv-restored`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(from) == 0 {
				return errors.New("give the backup directory to restore from with --from DIR")
			}
			if data == "" {
				return errors.New("give the data directory to restore into with --data NEWDIR")
			}
			parts, err := backup.ParseParts(partList)
			if err != nil {
				return fmt.Errorf("--part: %w", err)
			}
			if partList == "" {
				parts = nil // every part the full backup holds
			}
			rep, err := backup.Restore(cmd.Context(), from, data, parts)
			if err != nil {
				return err
			}
			return writeRestoreSummary(cmd.OutOrStdout(), data, rep)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&from, "from", nil, "backup directory: the full backup, then each incremental one in order (repeat)")
	f.StringVar(&data, "data", "", "data directory to restore into; its part directories must be absent or empty")
	f.StringVar(&partList, "part", "", "parts to restore, comma-separated: data, keystore, audit (default: every part of the backup)")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// writeRestoreSummary prints one line per part and what is left to do.
func writeRestoreSummary(w io.Writer, dir string, rep backup.RestoreReport) error {
	for _, p := range rep.Parts {
		bytes := int64(min(p.Bytes, math.MaxInt64)) // #nosec G115 -- clamped to int64
		if _, err := fmt.Fprintf(w, "restored %s from %d backups (%s bytes) into %s\n", p.Part, p.Backups, group(bytes), p.Dir); err != nil {
			return err
		}
	}
	var err error
	switch {
	case rep.RootKeyMissing:
		_, err = fmt.Fprintf(w, "The backup was made with the local development KMS, whose root key is not in backups: copy the original kms/root.json to %s/kms/root.json (mode 0600) before serving; the store does not open without it.\n", dir)
	case rep.KMSURI != "":
		_, err = fmt.Fprintf(w, "The root key is in the KMS: serve with --kms %s\n", rep.KMSURI)
	}
	return err
}
