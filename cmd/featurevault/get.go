package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func newGetCmd(c *client) *cobra.Command {
	var (
		view     string
		entities []string
		features []string
		output   string
	)
	cmd := &cobra.Command{
		Use:   "get --view VIEW --entity KEY [--entity KEY...]",
		Short: "Read the latest features of entities",
		Long: `Get reads, for each --entity, the latest row of the view within its TTL,
with a status per value:

  PRESENT    the value is shown
  NULL       the row holds no value for the field
  NOT_FOUND  the entity has no row in the view
  EXPIRED    the latest row is older than the view's TTL
  DENIED     policy does not let you read the field

-o json prints one JSON object per entity and line:

  {"entity": "c-42", "event_time": "2026-11-01T00:00:00Z",
   "features": {"age": {"value": 41, "status": "PRESENT"}, ...}}

with values written as put reads them (bytes as base64, timestamps as
RFC 3339). -o table prints aligned columns for reading.

Every read states its purpose (--purpose or FEATUREVAULT_PURPOSE): the
server refuses a purpose the principal's purpose attribute does not list,
and policy rules may allow a column for one purpose and not another. With
--strict the whole read fails (permission_denied) when any requested
column is denied, instead of answering the others.`,
		Example: "  featurevault get --purpose training --view customer_profile --entity c-42 --entity c-7 --features email,age -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, err := onlineWriter(output)
			if err != nil {
				return err
			}
			res, err := getOnline(cmd.Context(), c, view, entities, features)
			if err != nil {
				return err
			}
			return write(cmd.OutOrStdout(), res)
		},
	}
	cmd.Flags().StringVar(&view, "view", "", "feature view to read")
	cmd.Flags().StringArrayVar(&entities, "entity", nil, "entity key to read; repeat for more")
	cmd.Flags().StringSliceVar(&features, "features", nil, "comma-separated features to read, in this order (default: every field)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: json or table")
	cmd.Flags().BoolVar(&c.strict, "strict", false, "fail the whole read if policy denies any requested column")
	_ = cmd.MarkFlagRequired("view")
	_ = cmd.MarkFlagRequired("entity")
	return cmd
}

func getOnline(ctx context.Context, c *client, view string, entities, features []string) (*fvv1.GetOnlineFeaturesResponse, error) {
	fs, err := c.features()
	if err != nil {
		return nil, err
	}
	res, err := call(ctx, c, fs.GetOnlineFeatures, &fvv1.GetOnlineFeaturesRequest{
		View: view, EntityKeys: entities, Features: features,
	})
	if err != nil {
		return nil, err
	}
	for _, row := range res.GetRows() {
		if len(row.GetValues()) != len(res.GetFeatures()) || len(row.GetStatuses()) != len(res.GetFeatures()) {
			return nil, fmt.Errorf("the server answered with %d values and %d statuses for %d features; is it a FeatureVault server of the same version?",
				len(row.GetValues()), len(row.GetStatuses()), len(res.GetFeatures()))
		}
	}
	if len(res.GetRows()) != len(entities) {
		return nil, fmt.Errorf("the server answered with %d rows for %d entities; is it a FeatureVault server of the same version?", len(res.GetRows()), len(entities))
	}
	return res, nil
}

// onlineWriter returns the printer of an -o format.
func onlineWriter(format string) (func(io.Writer, *fvv1.GetOnlineFeaturesResponse) error, error) {
	switch format {
	case "json":
		return writeOnlineJSON, nil
	case "table":
		return writeOnlineTable, nil
	}
	return nil, fmt.Errorf("-o %q: use json or table", format)
}
