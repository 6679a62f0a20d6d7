package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/audit"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// checkpointSvc returns a CheckpointService client for --server.
func (c *client) checkpointSvc() (featurevaultv1connect.CheckpointServiceClient, error) {
	base, opts, err := c.connect(false)
	if err != nil {
		return nil, err
	}
	return featurevaultv1connect.NewCheckpointServiceClient(c.http, base, opts...), nil
}

func newAuditCheckpointCmd(c *client) *cobra.Command {
	var (
		rotate bool
		export string
	)
	cmd := &cobra.Command{
		Use:   "checkpoint [--rotate-key] [--export PUBLIC-KEYSET-FILE]",
		Short: "Sign a checkpoint of the audit log now, and export the public keyset auditors verify with",
		Long: `The server signs checkpoints of the audit log with an Ed25519 key kept in
its key hierarchy (wrapped by the KEK): each binds a record's sequence number
to a SHA-256 chain over every record up to it, so that anyone holding an
export and the public keyset can verify the log offline (audit verify
--public-keyset). It signs them on its own (serve --audit-checkpoint-interval,
--audit-checkpoint-every); this command signs one now.

--rotate-key adds a new signing key and signs with it from now on; earlier
keys stay in the public keyset, so earlier checkpoints keep verifying.
--export writes the public keyset (every key version, no private key) to a
file: hand it to auditors, and export it again after each rotation.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := c.checkpointSvc()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, svc.SignCheckpoint, &fvv1.SignCheckpointRequest{RotateKey: rotate})
			if err != nil {
				return err
			}
			cp := res.GetCheckpoint()
			how := "signed"
			if !res.GetCreated() {
				how = "already signed"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "checkpoint %s: record %d, head %s, key %d, at %s\n", how, cp.GetSeq(), cp.GetHead(), cp.GetKeyId(), cp.GetTime().AsTime().UTC().Format("2006-01-02T15:04:05Z"))
			if rotate {
				fmt.Fprintf(cmd.OutOrStdout(), "signing key rotated: key %d is primary; export the public keyset again\n", res.GetKeyId())
			}
			if export == "" {
				return nil
			}
			keys, err := call(cmd.Context(), c, svc.GetCheckpointKeys, &fvv1.GetCheckpointKeysRequest{})
			if err != nil {
				return err
			}
			if err := writeFileAtomic(export, func(w io.Writer) error { _, err := w.Write(keys.GetPublicKeyset()); return err }); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "public checkpoint keyset written to %s\n", export)
			return nil
		},
	}
	cmd.Flags().BoolVar(&rotate, "rotate-key", false, "add a new signing key and make it primary first")
	cmd.Flags().StringVar(&export, "export", "", "write the public checkpoint keyset (Tink JSON) to this file")
	return cmd
}

// checkpointsFrom lists every checkpoint of the server, for export.
func checkpointsFrom(c *client) func(context.Context) ([]audit.SignedCheckpoint, error) {
	return func(ctx context.Context) ([]audit.SignedCheckpoint, error) {
		svc, err := c.checkpointSvc()
		if err != nil {
			return nil, err
		}
		var out []audit.SignedCheckpoint
		for after := uint64(0); ; {
			res, err := call(ctx, c, svc.ListCheckpoints, &fvv1.ListCheckpointsRequest{AfterSeq: after})
			if err != nil {
				return nil, err
			}
			if len(res.GetCheckpoints()) == 0 {
				return out, nil
			}
			for _, p := range res.GetCheckpoints() {
				head, err := hex.DecodeString(p.GetHead())
				if err != nil {
					return nil, fmt.Errorf("checkpoint %d: head is not hex", p.GetSeq())
				}
				out = append(out, audit.SignedCheckpoint{Seq: p.GetSeq(), Head: head, Time: p.GetTime().AsTime().UTC(), KeyID: p.GetKeyId(), Signature: p.GetSignature()})
				after = p.GetSeq()
			}
		}
	}
}

// verifyOffline is audit verify --public-keyset: no server, no secret.
func verifyOffline(out io.Writer, keysetFile, logFile string, sinkFiles []string, output string) error {
	if logFile == "" {
		return errors.New("--public-keyset needs --log FILE: the export (featurevault audit export --out FILE) to verify")
	}
	kb, err := os.ReadFile(keysetFile) // #nosec G304 -- the auditor names the keyset
	if err != nil {
		return fmt.Errorf("--public-keyset: %w", err)
	}
	v, err := audit.ParsePublicKeyset(kb)
	if err != nil {
		return fmt.Errorf("--public-keyset %s: %w", keysetFile, err)
	}
	var extra []audit.SignedCheckpoint
	for _, f := range sinkFiles {
		cps, err := readCheckpointFile(f)
		if err != nil {
			return err
		}
		extra = append(extra, cps...)
	}
	in, err := os.Open(logFile) // #nosec G304 -- the auditor names the export
	if err != nil {
		return fmt.Errorf("--log: %w", err)
	}
	defer in.Close()
	rep, err := audit.VerifyExport(in, v, extra...)
	if err != nil {
		return err
	}
	if output == "json" {
		if rep.Problems == nil {
			rep.Problems = []audit.Problem{}
		}
		if err := writeJSON(out, struct {
			OK bool `json:"ok"`
			audit.OfflineReport
		}{rep.OK(), rep}); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(out, p)
		}
		if rep.OK() {
			fmt.Fprintf(out, "export verified offline: %d records, %d signed checkpoints; records 1..%d are covered by a signature", rep.Records, rep.Checkpoints, rep.Covered)
			if rep.Last > rep.Covered {
				fmt.Fprintf(out, "; records %d..%d only by the chain links (not proven: sign a later checkpoint)", rep.Covered+1, rep.Last)
			}
			fmt.Fprintln(out)
		}
	}
	if !rep.OK() {
		return fmt.Errorf("audit verify: %d problems; the export does not match the signed checkpoints", len(rep.Problems))
	}
	return nil
}

// readCheckpointFile reads a checkpoint sink: one checkpoint JSON per line
// (export lines {"checkpoint": ...} are accepted too).
func readCheckpointFile(file string) ([]audit.SignedCheckpoint, error) {
	f, err := os.Open(file) // #nosec G304 -- the auditor names the sink copy
	if err != nil {
		return nil, fmt.Errorf("--checkpoints: %w", err)
	}
	defer f.Close()
	var out []audit.SignedCheckpoint
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var wrapped struct {
			Checkpoint *audit.SignedCheckpoint `json:"checkpoint"`
		}
		var cp audit.SignedCheckpoint
		if err := json.Unmarshal([]byte(line), &wrapped); err == nil && wrapped.Checkpoint != nil {
			cp = *wrapped.Checkpoint
		} else if err := json.Unmarshal([]byte(line), &cp); err != nil || cp.Seq == 0 {
			return nil, fmt.Errorf("--checkpoints %s line %d is not a checkpoint", file, n)
		}
		out = append(out, cp)
	}
	return out, sc.Err()
}
