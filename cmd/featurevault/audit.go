package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/audit"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// auditPage is how many records audit export asks for per request.
const auditPage = 1000

func newAuditCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read, verify and export the hash-chained audit log",
		Long: `Every data access and admin action appends a record to the audit log: who,
what, which view, the columns allowed and denied, how many entities, the
purpose, the rule that decided and the outcome. Records are chained by MAC,
so "audit verify" detects an edited, deleted, inserted or reordered record.
Subjects appear only by blind index; no value, raw entity key or token is
ever in the log.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAuditTailCmd(c), newAuditVerifyCmd(c), newAuditExportCmd(c), newAuditCheckpointCmd(c))
	return cmd
}

func newAuditTailCmd(c *client) *cobra.Command {
	var (
		n      int
		output string
	)
	cmd := &cobra.Command{
		Use:   "tail [-n 20]",
		Short: "Print the last records of the audit log",
		Long: `Tail prints the last -n records, oldest first: a table, or with -o json
one record per line in the format of "audit export".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json"); err != nil {
				return err
			}
			if n <= 0 || n > audit.MaxRange {
				return fmt.Errorf("-n %d: give a number of records from 1 to %d", n, audit.MaxRange)
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.ReadAudit, &fvv1.ReadAuditRequest{Tail: int32(n)})
			if err != nil {
				return err
			}
			recs, err := auditFromProto(res.GetRecords())
			if err != nil {
				return err
			}
			if output == "json" {
				return writeAuditJSON(cmd.OutOrStdout(), recs)
			}
			return writeAuditTable(cmd.OutOrStdout(), recs)
		},
	}
	cmd.Flags().IntVarP(&n, "lines", "n", 20, "number of records")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newAuditVerifyCmd(c *client) *cobra.Command {
	var (
		checkpoints  []string
		output       string
		publicKeyset string
		logFile      string
		sinkFiles    []string
	)
	cmd := &cobra.Command{
		Use:   "verify [--checkpoint SEQ:HASH ...]",
		Short: "Check the audit log's chain and print its head checkpoint",
		Long: `Verify checks every record's MAC and its link to the one before, and
reports each problem at its sequence number. It prints the head
checkpoint (SEQ:HASH): keep it somewhere the server cannot write, and pass
it back with --checkpoint later to detect a log rolled back or truncated
past it. The exit status is 1 when there is any problem.

With --public-keyset FILE --log EXPORT it runs offline instead, with no
server and no secret: it recomputes the export's SHA-256 chain, checks the
signed checkpoints in it (and in --checkpoints files) against the public
keyset, and reports edits, deletions, reorderings, records cut before a
checkpoint, and checkpoints signed by an unknown key. Records after the
last checkpoint are covered by no signature; the report says how far
signatures reach. See docs/audit-verification.md.`,
		Example: "  featurevault audit verify --checkpoint 1042:01a2b3...\n  featurevault audit verify --public-keyset checkpoint-keys.json --log audit.jsonl --checkpoints sink-copy.jsonl",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "text", "json"); err != nil {
				return err
			}
			if publicKeyset != "" {
				return verifyOffline(cmd.OutOrStdout(), publicKeyset, logFile, sinkFiles, output)
			}
			if logFile != "" || len(sinkFiles) > 0 {
				return errors.New("--log and --checkpoints verify an export offline: give --public-keyset FILE too")
			}
			for _, cp := range checkpoints {
				if _, err := audit.ParseCheckpoint(cp); err != nil {
					return fmt.Errorf("--checkpoint %q is not SEQ:HASH, the head checkpoint an earlier \"audit verify\" printed (a positive sequence number, a colon and a hex hash)", cp)
				}
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.VerifyAudit, &fvv1.VerifyAuditRequest{Checkpoints: checkpoints})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				type problem struct {
					Seq    uint64 `json:"seq"`
					Kind   string `json:"kind"`
					Detail string `json:"detail"`
				}
				v := struct {
					OK       bool      `json:"ok"`
					Records  uint64    `json:"records"`
					Head     string    `json:"head"`
					Problems []problem `json:"problems"`
				}{res.GetOk(), res.GetRecords(), res.GetHead(), []problem{}}
				for _, p := range res.GetProblems() {
					v.Problems = append(v.Problems, problem{p.GetSeq(), p.GetKind(), p.GetDetail()})
				}
				if err := writeJSON(out, v); err != nil {
					return err
				}
			} else {
				for _, p := range res.GetProblems() {
					fmt.Fprintf(out, "record %d: %s: %s\n", p.GetSeq(), p.GetKind(), p.GetDetail())
				}
				if res.GetOk() {
					fmt.Fprintf(out, "audit log verified: %d records, chain intact", res.GetRecords())
					if len(checkpoints) > 0 {
						fmt.Fprintf(out, ", %d checkpoints matched", len(checkpoints))
					}
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "head checkpoint: %s\n", res.GetHead())
			}
			if !res.GetOk() {
				n := len(res.GetProblems())
				if n == 0 {
					return errors.New("audit verify: the server reports the log is not intact")
				}
				return fmt.Errorf("audit verify: %d problems in %d records; the log has been tampered with or damaged", n, res.GetRecords())
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&checkpoints, "checkpoint", nil, "a head checkpoint (SEQ:HASH) printed by an earlier verify; may repeat")
	cmd.Flags().StringVar(&publicKeyset, "public-keyset", "", "verify an export OFFLINE (no server, no secret) with this public checkpoint keyset (audit checkpoint --export)")
	cmd.Flags().StringVar(&logFile, "log", "", "with --public-keyset: the export to verify (audit export --out)")
	cmd.Flags().StringArrayVar(&sinkFiles, "checkpoints", nil, "with --public-keyset: a file of checkpoints kept elsewhere (serve --audit-checkpoint-sink); may repeat")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newAuditExportCmd(c *client) *cobra.Command {
	var outFile string
	cmd := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Write the whole audit log as JSON lines",
		Long: `Export writes every record of the audit log, up to the head when it
starts, as JSON lines in sequence order (hashes in hex), each signed
checkpoint as a line {"checkpoint": {...}} after the record it covers
(audit verify --public-keyset checks them offline), to standard output
or --out FILE (written whole or not at all, mode 0600). Each line decodes
to an audit.Record whose canonical encoding is what its hash covers, so an
archive can be verified again later.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := c.admin()
			if err != nil {
				return err
			}
			src := auditSource{
				read: func(ctx context.Context, req *fvv1.ReadAuditRequest) ([]*fvv1.AuditRecord, error) {
					res, err := call(ctx, c, admin.ReadAudit, req)
					return res.GetRecords(), err
				},
				checkpoints: checkpointsFrom(c),
				head: func(ctx context.Context) (uint64, error) {
					res, err := call(ctx, c, admin.VerifyAudit, &fvv1.VerifyAuditRequest{})
					if err != nil {
						return 0, err
					}
					cp, err := audit.ParseCheckpoint(res.GetHead())
					if err != nil {
						return 0, nil // no head: an empty log
					}
					return cp.Seq, nil
				},
			}
			if outFile == "" {
				_, err := exportAudit(cmd.Context(), src, cmd.OutOrStdout(), cmd.ErrOrStderr())
				return err
			}
			return writeFileAtomic(outFile, func(w io.Writer) error {
				st, err := exportAudit(cmd.Context(), src, w, cmd.ErrOrStderr())
				if err == nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "exported %d records (up to %d) to %s\n", st.records, st.head, outFile)
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&outFile, "out", "", "file to write (default: standard output)")
	return cmd
}

// auditSource is how exportAudit reads the log: ReadAudit, and the stored
// head pointer (from VerifyAudit) for when the last record is missing.
type auditSource struct {
	read func(context.Context, *fvv1.ReadAuditRequest) ([]*fvv1.AuditRecord, error)
	head func(context.Context) (uint64, error)
	// checkpoints lists the signed checkpoints (nil: export none).
	checkpoints func(context.Context) ([]audit.SignedCheckpoint, error)
}

type exportStats struct {
	records int
	head    uint64
}

// exportAudit pages through the log from record 1 to the head as it was
// when the export started (reading the log appends records of its own,
// which a later export will include), writing each record as a JSON line.
// Records missing from the log are reported on stderr: run verify.
func exportAudit(ctx context.Context, src auditSource, w, stderr io.Writer) (exportStats, error) {
	var st exportStats
	last, err := src.read(ctx, &fvv1.ReadAuditRequest{Tail: 1})
	if err != nil {
		return st, err
	}
	if len(last) > 0 {
		st.head = last[0].GetSeq()
	} else if st.head, err = src.head(ctx); err != nil {
		// The last record is missing (or the log is empty): the head
		// pointer still says how far the log goes.
		return st, err
	}
	bySeq := map[uint64]audit.SignedCheckpoint{}
	if src.checkpoints != nil {
		cps, err := src.checkpoints(ctx)
		if err != nil {
			return st, fmt.Errorf("list audit checkpoints: %w", err)
		}
		for _, cp := range cps {
			bySeq[cp.Seq] = cp
		}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	want := uint64(1) // the next sequence number expected
	var missing uint64
	for from := uint64(1); from <= st.head; {
		page, err := src.read(ctx, &fvv1.ReadAuditRequest{From: from, Limit: auditPage})
		if err != nil {
			return st, fmt.Errorf("read audit records from %d: %w", from, err)
		}
		recs, err := auditFromProto(page)
		if err != nil {
			return st, err
		}
		// A page ends at the last record it holds; an empty one means
		// every record of the range asked for is missing.
		next := from + auditPage
		for _, r := range recs {
			if r.Seq < want {
				return st, fmt.Errorf("the server answered record %d when asked from %d; is it a FeatureVault server of the same version?", r.Seq, want)
			}
			if r.Seq > st.head {
				break
			}
			missing += r.Seq - want
			want = r.Seq + 1
			if err := enc.Encode(r); err != nil {
				return st, err
			}
			if cp, ok := bySeq[r.Seq]; ok {
				if err := audit.WriteCheckpointLine(w, cp); err != nil {
					return st, err
				}
			}
			st.records++
			next = want
		}
		from = next
	}
	if want <= st.head {
		missing += st.head + 1 - want
	}
	if missing > 0 {
		fmt.Fprintf(stderr, "featurevault: warning: %d records between 1 and %d are missing from the log; run \"featurevault audit verify\"\n", missing, st.head)
	}
	return st, nil
}

// auditFromProto converts API records to audit.Record, the type whose JSON
// is the export format.
func auditFromProto(in []*fvv1.AuditRecord) ([]audit.Record, error) {
	out := make([]audit.Record, 0, len(in))
	for _, r := range in {
		prev, err := hex.DecodeString(r.GetPrevHash())
		if err != nil {
			return nil, fmt.Errorf("audit record %d: prev_hash is not hex", r.GetSeq())
		}
		hash, err := hex.DecodeString(r.GetHash())
		if err != nil {
			return nil, fmt.Errorf("audit record %d: hash is not hex", r.GetSeq())
		}
		out = append(out, audit.Record{
			Seq: r.GetSeq(), Time: r.GetTime().AsTime().UTC(), Principal: r.GetPrincipal(), Action: r.GetAction(),
			Procedure: r.GetProcedure(), View: r.GetView(), Allowed: r.GetAllowed(), Denied: r.GetDenied(),
			Entities: int(r.GetEntities()), Subjects: r.GetSubjects(), Purpose: r.GetPurpose(), Env: r.GetEnv(),
			Rule: r.GetRule(), Epsilon: r.GetEpsilon(), Delta: r.GetDelta(), Outcome: r.GetOutcome(), Detail: r.GetDetail(),
			PrevHash: prev, Hash: hash, Auth: r.GetAuth(),
		})
	}
	return out, nil
}

// writeAuditJSON writes records as JSON lines, encoded as audit.Log.Export
// encodes them.
func writeAuditJSON(w io.Writer, recs []audit.Record) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func writeAuditTable(w io.Writer, recs []audit.Record) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tPRINCIPAL\tACTION\tVIEW\tPURPOSE\tENTITIES\tALLOWED\tDENIED\tOUTCOME")
	for _, r := range recs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.Seq, r.Time.UTC().Format(time.RFC3339),
			tableCell(orDash(r.Principal)), tableCell(r.Action), tableCell(orDash(r.View)), tableCell(orDash(r.Purpose)),
			r.Entities, tableCell(formatList(r.Allowed)), tableCell(formatList(r.Denied)), tableCell(r.Outcome))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeFileAtomic writes path through write, into a temporary file in the
// same directory (mode 0600) that replaces path only when write succeeds.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return nil
}
