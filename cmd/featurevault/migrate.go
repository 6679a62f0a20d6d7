package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/kv/pgkv"
	"github.com/featurevault/featurevault/rpc"
)

func newMigrateCmd() *cobra.Command {
	var (
		from, to, keystoreTo string
		verify               bool
		batch                int
	)
	cmd := &cobra.Command{
		Use:   "migrate --from DIR --to postgres://… [--keystore-to postgres://…] [--verify]",
		Short: "Copy an embedded store into a shared PostgreSQL store (offline)",
		Long: `Migrate copies the embedded store in DIR (its data, keystore and audit
directories) into the tables of a shared PostgreSQL-protocol store, for
"featurevault serve --store". Stop the server on DIR first: its directories
are locked while it runs.

Nothing is decrypted: rows, wrapped keys and audit records are copied as the
bytes they are, so the copy is exactly as safe as the directory it came
from. Every target table must be empty. --verify then reads every entry
back from the database and compares its bytes, and checks that nothing
else is there.

The root key is not copied. For a store on the local development KMS,
serve with --kms local://DIR/kms/root.json (every server of the store must
use the same root key); for a real KMS, with the same --kms as before. The
bootstrap admin token in DIR/admin.token keeps working.`,
		Example: `  featurevault migrate --from ./featurevault-data --to postgres://fv@db:5432/fv --verify
  featurevault serve --store postgres://fv@db:5432/fv --kms local://$PWD/featurevault-data/kms/root.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" {
				return errors.New("give the embedded store's directory with --from DIR and the database with --to postgres://…")
			}
			if keystoreTo == "" {
				keystoreTo = to
			}
			out := cmd.OutOrStdout()
			parts := []struct{ name, dir, url, table string }{
				{"data", filepath.Join(from, "data"), to, rpc.SharedDataTable},
				{"keystore", filepath.Join(from, "keystore"), keystoreTo, rpc.SharedKeystoreTable},
				{"audit", filepath.Join(from, "audit"), to, rpc.SharedAuditTable},
			}
			for _, p := range parts {
				if _, err := os.Stat(p.dir); err != nil {
					return fmt.Errorf("%s has no %s directory (%v); give the directory \"featurevault serve --data\" used", from, p.name, err)
				}
			}
			for _, p := range parts {
				src, err := kv.OpenBadger(kv.DefaultOptions(p.dir).WithSyncWrites(false))
				if err != nil {
					return fmt.Errorf("open %s (is a server still running on it? stop it first): %w", p.dir, err)
				}
				dst, err := pgkv.Open(cmd.Context(), p.url, pgkv.DefaultOptions(p.table))
				if err != nil {
					_ = src.Close()
					return err
				}
				n, err := kv.Copy(dst, src, batch, nil)
				if errors.Is(err, kv.ErrNotEmpty) {
					err = fmt.Errorf("table %s in %s is not empty; migrate into an empty database (or drop the table)", p.table, pgkv.Redact(p.url))
				}
				if err == nil {
					fmt.Fprintf(out, "%s: copied %d entries into %s\n", p.name, n, p.table)
					if verify {
						var m int
						if m, err = kv.VerifyCopy(dst, src, batch); err == nil {
							fmt.Fprintf(out, "%s: verified %d entries read back byte for byte\n", p.name, m)
						}
					}
				}
				_ = dst.Close()
				_ = src.Close()
				if err != nil {
					return fmt.Errorf("migrate %s: %w", p.name, err)
				}
			}
			fmt.Fprintf(out, "done; serve it with: featurevault serve --store %s", pgkv.Redact(to))
			if keystoreTo != to {
				fmt.Fprintf(out, " --keystore-store %s", pgkv.Redact(keystoreTo))
			}
			if abs, err := filepath.Abs(filepath.Join(from, "kms", "root.json")); err == nil {
				if _, err := os.Stat(abs); err == nil {
					fmt.Fprintf(out, " --kms local://%s", abs)
				}
			}
			fmt.Fprintln(out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "directory of the embedded store (serve --data)")
	f.StringVar(&to, "to", "", "postgres:// URL of the shared store's database")
	f.StringVar(&keystoreTo, "keystore-to", "", "postgres:// URL for the keystore (its own database or schema; default --to)")
	f.BoolVar(&verify, "verify", false, "read every copied entry back and compare its bytes")
	f.IntVar(&batch, "batch", 1000, "entries per transaction")
	return cmd
}
