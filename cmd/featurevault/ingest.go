package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/arrowio"
	fvclient "github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/specpb"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// ingestOptions are the flags of ingest.
type ingestOptions struct {
	view       string
	format     string
	batchRows  int
	noValidate bool
	progress   string
}

func newIngestCmd(c *client) *cobra.Command {
	var o ingestOptions
	cmd := &cobra.Command{
		Use:   "ingest FILE --view VIEW",
		Short: "Bulk-load a view from an Arrow, Parquet or CSV file",
		Long: `Ingest writes the rows of a table file to a feature view over IngestArrow.
The format is read from the file (Parquet and Arrow have magic numbers) or
its extension, or given with --format:

  arrow    Arrow IPC, file (Feather v2) or stream
  parquet  Apache Parquet
  csv      CSV with a header line

The table needs a column named after the entity's join key, an
event_timestamp column, and any of the view's fields by name; fields left
out are NULL. Arrow and Parquet types convert when no value can change
(int32 into int64, float32 into float64, any timestamp unit; a timestamp
without a zone is UTC). CSV cells are read by the view's types: empty is
NULL, bytes are base64, timestamps RFC 3339 (or "2026-11-01 00:00:00",
UTC), lists JSON arrays such as [0.25, -1.5].

Nothing is written unless the whole file is good. The schema is checked
against the view first; then every row is checked by the server in a
validation pass that writes nothing (skip it with --no-validate for files
you trust); only then are the rows written, in batches of --batch-rows,
each batch one atomic commit. A refused file gets a report of every bad
row (rows count from 0, not counting the header; CSV lines from 1).`,
		Example: "  featurevault ingest transactions.parquet --view customer_txn --purpose backfill\n" +
			"  featurevault ingest profiles.csv --view customer_profile --batch-rows 1000",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ingest(cmd.Context(), c, args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.view, "view", "", "feature view to write to")
	f.StringVar(&o.format, "format", "auto", "file format: auto, arrow, parquet or csv")
	f.IntVar(&o.batchRows, "batch-rows", fvclient.DefaultIngestBatchRows, "rows per atomic batch")
	f.BoolVar(&o.noValidate, "no-validate", false, "skip the validation pass (a bad row then stops the ingest midway, with the batches before it written)")
	f.StringVar(&o.progress, "progress", "auto", "progress bar on standard error: auto (on a terminal), always or never")
	_ = cmd.MarkFlagRequired("view")
	return cmd
}

func ingest(ctx context.Context, c *client, path string, o ingestOptions, stdout, stderr io.Writer) error {
	if o.batchRows <= 0 || o.batchRows > store.MaxRowsPerIngest {
		return fmt.Errorf("--batch-rows %d: use 1 to %d", o.batchRows, store.MaxRowsPerIngest)
	}
	format, err := arrowio.ParseFormat(o.format)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "arrowio: "))
	}
	v, e, err := fetchView(ctx, c, o.view)
	if err != nil {
		return err
	}
	fc, err := c.arrowClient()
	if err != nil {
		return err
	}
	open := func() (*arrowio.Source, error) {
		src, err := arrowio.OpenFile(ctx, path, format, v, e, memory.DefaultAllocator, o.batchRows)
		if err != nil {
			return nil, fileError(path, err)
		}
		if _, err := arrowio.NewDecoder(src.Schema(), v, e); err != nil {
			_ = src.Close()
			return nil, fileError(path, err)
		}
		return src, nil
	}
	perRow := int64(len(v.Fields))
	if !o.noValidate {
		src, err := open()
		if err != nil {
			return err
		}
		bar, err := newProgress(stderr, o.progress, "check ", src.Rows, perRow)
		if err != nil {
			_ = src.Close()
			return err
		}
		res, err := fc.IngestArrow(ctx, o.view, src, fvclient.Ingest{ValidateOnly: true, BatchRows: o.batchRows, Progress: bar.set})
		bar.finish(res.GetRowsChecked())
		var csvProblems []arrowio.CSVProblem
		moreCSV := 0
		if src.CSV != nil {
			csvProblems, moreCSV = src.CSV.Problems()
		}
		_ = src.Close()
		if err != nil || len(csvProblems) > 0 {
			return c.refusalReport(path, src.Format, res, err, csvProblems, moreCSV, false)
		}
	}
	src, err := open()
	if err != nil {
		return err
	}
	defer src.Close()
	bar, err := newProgress(stderr, o.progress, "ingest", src.Rows, perRow)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := fc.IngestArrow(ctx, o.view, src, fvclient.Ingest{BatchRows: o.batchRows, Progress: bar.set})
	bar.finish(res.GetRowsWritten())
	if err != nil {
		return c.refusalReport(path, src.Format, res, err, nil, 0, true)
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "ingested %s rows (%s values) into %s in %d batches, %.1fs (%s values/s)\n",
		group(res.GetRowsWritten()), group(res.GetValuesWritten()), o.view, res.GetBatchesWritten(), secs, short(float64(res.GetValuesWritten())/secs))
	return nil
}

// fetchView reads a view and its entity from the server.
func fetchView(ctx context.Context, c *client, name string) (store.View, store.Entity, error) {
	admin, err := c.admin()
	if err != nil {
		return store.View{}, store.Entity{}, err
	}
	def, err := call(ctx, c, admin.GetFeatureView, &fvv1.GetFeatureViewRequest{Name: name})
	if err != nil {
		return store.View{}, store.Entity{}, err
	}
	v, err := specpb.ViewFromProto(def.GetView())
	if err != nil {
		return store.View{}, store.Entity{}, err
	}
	e, err := specpb.EntityFromProto(def.GetEntity())
	return v, e, err
}

// arrowClient returns a FeatureService client for the Arrow calls, with
// the credential and purpose of data requests.
func (c *client) arrowClient() (*fvclient.Client, error) {
	base, err := c.baseURL()
	if err != nil {
		return nil, err
	}
	h, err := c.headers(true)
	if err != nil {
		return nil, err
	}
	return fvclient.New(c.http, base, fvclient.WithHeaders(h)), nil
}

// fileError says which file is wrong and that nothing was written.
func fileError(path string, err error) error {
	var se *arrowio.SchemaError
	if errors.As(err, &se) {
		return fmt.Errorf("%s does not fit view %q; nothing was written:\n  - %s", path, se.View, strings.Join(se.Problems, "\n  - "))
	}
	return fmt.Errorf("%s: %s; nothing was written", path, strings.TrimPrefix(err.Error(), "arrowio: "))
}

// refusalReport turns a failed ingest into the error ingest prints: what
// was written, and every refused row and unreadable CSV cell (up to the
// server's and the reader's limits), by row and, for CSV, line.
func (c *client) refusalReport(path string, format arrowio.Format, res *fvv1.IngestArrowResponse, err error, csv []arrowio.CSVProblem, moreCSV int, writing bool) error {
	var ie *fvclient.IngestError
	if err != nil && !errors.As(err, &ie) {
		return fmt.Errorf("%s: %w", path, c.explain(err))
	}
	var b strings.Builder
	refused := res.GetRowsRefused() + int64(len(csv)+moreCSV)
	fmt.Fprintf(&b, "%s: %s problems in %s rows checked", path, group(refused), group(res.GetRowsChecked()))
	switch {
	case !writing || res.GetRowsWritten() == 0:
		b.WriteString("; nothing was written. Fix them and run ingest again:")
	default:
		fmt.Fprintf(&b, "; the %s rows in the %d batches before the first bad row were written, nothing after. Fix the rest and ingest them:", group(res.GetRowsWritten()), res.GetBatchesWritten())
	}
	seen := map[int64]bool{}
	for _, p := range csv {
		seen[p.Row] = true
		fmt.Fprintf(&b, "\n  row %d (line %d), column %s: %s", p.Row, p.Line, p.Column, p.Reason)
	}
	for _, r := range res.GetRefusals() {
		if seen[r.GetRow()] {
			continue // the CSV reader already said why
		}
		fmt.Fprintf(&b, "\n  row %d", r.GetRow())
		if format == arrowio.FormatCSV {
			fmt.Fprintf(&b, " (line %d)", r.GetRow()+2)
		}
		if r.GetColumn() != "" {
			fmt.Fprintf(&b, ", column %s", r.GetColumn())
		}
		fmt.Fprintf(&b, ": %s", r.GetReason())
	}
	if shown := int64(len(csv) + len(res.GetRefusals())); refused > shown {
		fmt.Fprintf(&b, "\n  ... and more; fix these and run ingest again to see the rest")
	}
	return errors.New(b.String())
}
