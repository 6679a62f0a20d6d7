package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/arrowio"
	fvclient "github.com/featurevault/featurevault/client"
)

// exportOptions are the flags of export.
type exportOptions struct {
	view      string
	format    string
	out       string
	features  []string
	start     string
	end       string
	asOf      string
	cutoff    string
	batchRows int
	progress  string
}

func newExportCmd(c *client) *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --view VIEW --out FILE [--format arrow|parquet]",
		Short: "Write a view, or a point-in-time snapshot of it, to an Arrow or Parquet file",
		Long: `Export streams a view from the server (ReadBatches) into a file:

  arrow    an Arrow IPC file (Feather v2): pyarrow.feather.read_table(FILE)
  parquet  Parquet, Snappy-compressed: pandas.read_parquet(FILE)

The format defaults from the --out extension (.arrow, .feather, .parquet).
The table has the entity's join key, event_timestamp and the fields you may
read (--features picks some; policy may withhold others, which export
names on standard error). It ingests back unchanged with
"featurevault ingest".

Filters: --start and --end bound event times to [start, end); --as-of T
takes the latest row of each entity at or before T within the view's TTL;
--created-cutoff T ignores rows written after T (late, backfilled rows),
so an export can be reproduced later. Times are RFC 3339.

The file is written beside --out under a temporary name and renamed into
place only when complete: a failed export leaves no partial file.`,
		Example: "  featurevault export --view customer_profile --out profile.parquet --purpose training\n" +
			"  featurevault export --view customer_txn --as-of 2026-11-01T00:00:00Z --out snapshot.arrow",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return export(cmd.Context(), c, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.view, "view", "", "feature view to export")
	f.StringVar(&o.out, "out", "", "file to write")
	f.StringVar(&o.format, "format", "auto", "arrow or parquet (auto: from the --out extension)")
	f.StringSliceVar(&o.features, "features", nil, "comma-separated fields to export, in this order (default: every field)")
	f.StringVar(&o.start, "start", "", "earliest event time, inclusive (RFC 3339)")
	f.StringVar(&o.end, "end", "", "latest event time, exclusive (RFC 3339)")
	f.StringVar(&o.asOf, "as-of", "", "export the latest row of each entity at or before this time, within the view's TTL (RFC 3339)")
	f.StringVar(&o.cutoff, "created-cutoff", "", "ignore rows written after this time (RFC 3339)")
	f.IntVar(&o.batchRows, "batch-rows", 0, "rows per record batch from the server (default 4096)")
	f.StringVar(&o.progress, "progress", "auto", "progress bar on standard error: auto (on a terminal), always or never")
	_ = cmd.MarkFlagRequired("view")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func export(ctx context.Context, c *client, o exportOptions, stdout, stderr io.Writer) (err error) {
	format, err := exportFormat(o.format, o.out)
	if err != nil {
		return err
	}
	r := fvclient.Read{Features: o.features, BatchRows: o.batchRows}
	for _, t := range []struct {
		flag, val string
		dst       *time.Time
	}{{"--start", o.start, &r.Start}, {"--end", o.end, &r.End}, {"--as-of", o.asOf, &r.AsOf}, {"--created-cutoff", o.cutoff, &r.CreatedCutoff}} {
		if t.val == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339Nano, t.val); err != nil {
			return fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", t.flag, t.val)
		}
	}
	bar, err := newProgress(stderr, o.progress, "export", 0, 0)
	if err != nil {
		return err
	}
	fc, err := c.arrowClient()
	if err != nil {
		return err
	}
	start := time.Now()
	rd, err := fc.ReadBatches(ctx, o.view, r)
	if err != nil {
		return c.explain(err)
	}
	defer rd.Release()
	if d := rd.Denied(); len(d) > 0 {
		fmt.Fprintf(stderr, "policy withholds %s of view %s; they are not in the file\n", strings.Join(d, ", "), o.view)
	}
	bar.perRow = int64(rd.Schema().NumFields() - 2)

	tmp, err := os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".partial-*")
	if err != nil {
		return fmt.Errorf("create the output file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w, err := arrowio.NewFileWriter(tmp, format, rd.Schema(), memory.DefaultAllocator)
	if err != nil {
		return err
	}
	var rows int64
	for rd.Next() {
		if err := w.Write(rd.RecordBatch()); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
		rows += rd.RecordBatch().NumRows()
		bar.set(rows)
	}
	bar.finish(rows)
	if err := rd.Err(); err != nil {
		return fmt.Errorf("the export stopped after %s rows and %s was not written: %w", group(rows), o.out, c.explain(err))
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", o.out, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := os.Rename(tmp.Name(), o.out); err != nil {
		return fmt.Errorf("move the finished file into place: %w", err)
	}
	secs := time.Since(start).Seconds()
	values := rows * bar.perRow
	fmt.Fprintf(stdout, "exported %s rows (%d fields) of %s to %s (%s) in %.1fs (%s values/s)\n",
		group(rows), bar.perRow, o.view, o.out, format, secs, short(float64(values)/secs))
	return nil
}

// exportFormat resolves --format, defaulting from the file extension.
func exportFormat(flag, out string) (arrowio.Format, error) {
	f, err := arrowio.ParseFormat(flag)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "arrowio: "))
	}
	if f == "" {
		switch strings.ToLower(filepath.Ext(out)) {
		case ".parquet", ".pq":
			f = arrowio.FormatParquet
		case ".arrow", ".feather", ".ipc":
			f = arrowio.FormatArrow
		default:
			return "", fmt.Errorf("cannot tell the format from %q; give --format arrow or --format parquet", out)
		}
	}
	if f == arrowio.FormatCSV {
		return "", errors.New("export writes arrow or parquet, not csv")
	}
	return f, nil
}
