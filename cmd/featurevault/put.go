package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// maxBatchBytes caps the encoded size of one WriteFeatures request below
// the server's default request limit (4 MiB), whatever --batch says.
const maxBatchBytes = 3 << 20

func newPutCmd(c *client) *cobra.Command {
	var (
		view  string
		file  string
		batch int
	)
	cmd := &cobra.Command{
		Use:   "put --view VIEW -f ROWS",
		Short: "Write rows to a feature view from JSON lines",
		Long: `Put writes rows, one JSON object per line, to a feature view:

  {"entity": "c-42", "event_time": "2026-11-01T00:00:00Z", "values": {"email": "a@example.com", "age": 41}}

"event_time" (RFC 3339) is optional and defaults to the server's clock; a
field left out of "values", or given as null, is stored as NULL. Each value
is converted by its field's declared type, which put reads from the server:
integers for int64, numbers for float64, base64 strings for bytes, RFC 3339
strings for timestamps, arrays of numbers for list<float32>.

Every line is checked before anything is sent: one bad line and nothing is
written. The rows then go in batches of --batch rows; each batch is atomic,
so if the server refuses one, the batches before it stay written, and put
says how many rows that was.

Every write states its purpose (--purpose or FEATUREVAULT_PURPOSE) and
needs the write action on each column it sets.`,
		Example: "  featurevault put --purpose ingestion --view customer_profile -f rows.jsonl\n  cat rows.jsonl | featurevault put --purpose ingestion --view customer_profile -f -",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch <= 0 {
				return fmt.Errorf("--batch must be positive, got %d", batch)
			}
			return put(cmd.Context(), c, view, file, batch, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&view, "view", "", "feature view to write to")
	cmd.Flags().StringVarP(&file, "file", "f", "", "JSON-lines file of rows; - reads standard input")
	cmd.Flags().IntVar(&batch, "batch", 500, "rows per request")
	_ = cmd.MarkFlagRequired("view")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func put(ctx context.Context, c *client, view, file string, batch int, stdin io.Reader, out io.Writer) error {
	admin, err := c.admin()
	if err != nil {
		return err
	}
	features, err := c.features()
	if err != nil {
		return err
	}
	def, err := call(ctx, c, admin.GetFeatureView, &fvv1.GetFeatureViewRequest{Name: view})
	if err != nil {
		return err
	}
	r, closeInput, err := openInput(stdin, file)
	if err != nil {
		return err
	}
	rows, lines, err := newRowSchema(def.GetView(), def.GetEntity()).readRows(r)
	_ = closeInput()
	if err != nil {
		return fmt.Errorf("%s: nothing was written:\n%w", displayName(file), err)
	}

	var written, values int64
	for first, batchRows := range batches(rows, batch, maxBatchBytes) {
		res, err := call(ctx, c, features.WriteFeatures, &fvv1.WriteFeaturesRequest{View: view, Rows: batchRows})
		if err != nil {
			return fmt.Errorf("the batch of lines %d to %d was refused and nothing after it was sent; the %d rows before it were written (the server counts rows from 0 within the batch): %w",
				lines[first], lines[first+len(batchRows)-1], written, err)
		}
		written += res.GetRowsWritten()
		values += res.GetValuesWritten()
	}
	fmt.Fprintf(out, "wrote %d rows (%d values) to %s\n", written, values, view)
	return nil
}

// batches yields consecutive runs of rows, each at most maxRows rows and,
// unless a single row is larger, at most maxBytes encoded, with the index
// of the run's first row.
func batches(rows []*fvv1.Row, maxRows, maxBytes int) func(yield func(int, []*fvv1.Row) bool) {
	return func(yield func(int, []*fvv1.Row) bool) {
		start, size := 0, 0
		for i, r := range rows {
			n := proto.Size(r) + 8 // the field tag and length prefix, generously
			if i > start && (i-start == maxRows || size+n > maxBytes) {
				if !yield(start, rows[start:i]) {
					return
				}
				start, size = i, 0
			}
			size += n
		}
		if start < len(rows) {
			yield(start, rows[start:])
		}
	}
}
