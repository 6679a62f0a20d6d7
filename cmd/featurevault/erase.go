package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// eraseBatch is how many keys one Erase call carries.
const eraseBatch = 500

func newEraseCmd(c *client) *cobra.Command {
	var (
		entity   string
		keyArgs  []string
		file     string
		suppress bool
		mode     string
		output   string
	)
	cmd := &cobra.Command{
		Use:   "erase --entity E (--key K ... | --file keys.txt) [--suppress]",
		Short: "Erase data subjects for good (crypto-shredding)",
		Long: `Erase destroys each subject's key, deletes its rows in every view of the
entity and its subject record, and writes an erasure receipt per subject
to the audit log (blind index, time, principal, what was destroyed; never
the raw key). Reads, exports and aggregates no longer include the subject.

--suppress also keeps a suppression entry, by blind index, that refuses
any later write of the subject (FailedPrecondition).

--file reads entity keys one per line ("-" for standard input; blank lines
and lines starting with # are skipped) and shows progress on a terminal.
Output names each subject by its line (or --key position) and blind index.

Copies of the data in backups cannot be decrypted once the KEK version in
use at the time of the erasure is retired: see "featurevault keys".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "text", "json"); err != nil {
				return err
			}
			if (len(keyArgs) == 0) == (file == "") {
				return errors.New("give the subjects to erase with --key (repeatable) or --file, not both")
			}
			keys, where := keyArgs, make([]string, len(keyArgs))
			for i := range keyArgs {
				where[i] = fmt.Sprintf("--key %d", i+1)
			}
			if file != "" {
				var err error
				if keys, where, err = readKeyFile(cmd.InOrStdin(), file); err != nil {
					return err
				}
			}
			bar, err := newCountBar(cmd.ErrOrStderr(), mode, "erase", "subjects", int64(len(keys)))
			if err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			var receipts []*fvv1.ErasureReceipt
			for start := 0; start < len(keys); start += eraseBatch {
				end := min(start+eraseBatch, len(keys))
				res, err := call(cmd.Context(), c, admin.Erase, &fvv1.EraseRequest{Entity: entity, Keys: keys[start:end], Suppress: suppress})
				if err != nil {
					bar.finish(int64(start))
					if start > 0 {
						return fmt.Errorf("%w (the first %d subjects were erased; run the command again: erasing a subject twice is harmless)", err, start)
					}
					return err
				}
				receipts = append(receipts, res.GetReceipts()...)
				bar.set(int64(end), 0)
			}
			bar.finish(int64(len(keys)))
			return writeReceipts(cmd.OutOrStdout(), output, where, receipts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&entity, "entity", "", "entity of the subjects, e.g. customer")
	f.StringArrayVar(&keyArgs, "key", nil, "entity key of a subject to erase; may repeat")
	f.StringVarP(&file, "file", "f", "", "file of entity keys, one per line (- for standard input)")
	f.BoolVar(&suppress, "suppress", false, "refuse later writes of the erased subjects")
	f.StringVar(&mode, "progress", "auto", "progress bar: auto (on a terminal), always, never")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("entity")
	return cmd
}

// readKeyFile reads entity keys, one per line, and where each came from.
func readKeyFile(stdin io.Reader, name string) (keys, where []string, err error) {
	r, closeInput, err := openInput(stdin, name)
	if err != nil {
		return nil, nil, err
	}
	defer closeInput()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		k := strings.TrimSpace(sc.Text())
		if k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		keys = append(keys, k)
		where = append(where, fmt.Sprintf("line %d", n))
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", displayName(name), err)
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("%s holds no entity keys", displayName(name))
	}
	return keys, where, nil
}

type receiptJSON struct {
	Input         string   `json:"input"`
	BlindIndex    string   `json:"blind_index"`
	KeyDestroyed  bool     `json:"key_destroyed"`
	RecordDeleted bool     `json:"record_deleted"`
	Rows          int64    `json:"rows_deleted"`
	Views         []string `json:"views"`
	Suppressed    bool     `json:"suppressed"`
	ErasedAt      string   `json:"erased_at"`
	AuditSeq      uint64   `json:"audit_seq"`
}

func writeReceipts(w io.Writer, output string, where []string, receipts []*fvv1.ErasureReceipt) error {
	if output == "json" {
		out := make([]receiptJSON, len(receipts))
		for i, r := range receipts {
			out[i] = receiptJSON{where[i], r.GetBlindIndex(), r.GetKeyDestroyed(), r.GetRecordDeleted(), r.GetRows(), r.GetViews(), r.GetSuppressed(), tsString(r.GetErasedAt()), r.GetAuditSeq()}
			if out[i].Views == nil {
				out[i].Views = []string{}
			}
		}
		return writeJSON(w, out)
	}
	var keysDestroyed, rows int64
	for i, r := range receipts {
		var what []string
		if r.GetKeyDestroyed() {
			what = append(what, "key destroyed")
			keysDestroyed++
		}
		if r.GetRecordDeleted() {
			what = append(what, "record deleted")
		}
		if r.GetRows() > 0 {
			what = append(what, fmt.Sprintf("%d rows deleted in %s", r.GetRows(), strings.Join(r.GetViews(), ", ")))
		}
		rows += r.GetRows()
		if len(what) == 0 {
			what = append(what, "nothing was stored")
		}
		if r.GetSuppressed() {
			what = append(what, "later writes refused")
		}
		fmt.Fprintf(w, "%s: erased subject %s: %s (audit record %d)\n", where[i], r.GetBlindIndex(), strings.Join(what, "; "), r.GetAuditSeq())
	}
	if len(receipts) > 1 {
		fmt.Fprintf(w, "erased %s subjects: %s keys destroyed, %s rows deleted\n", group(int64(len(receipts))), group(keysDestroyed), group(rows))
	}
	return nil
}
