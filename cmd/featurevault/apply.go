package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/internal/specpb"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

func newApplyCmd(c *client) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f SPEC",
		Short: "Create or update entities and feature views from a YAML spec",
		Long: `Apply reads a spec file (YAML: entities and feature_views) and applies
every entity, then every view, in file order. Applying is idempotent: a view
may gain fields, tags, a TTL or a description, but a field's type never
changes and no field is removed; the server refuses such a spec and says why.

Each entity and view is its own request: when one is refused, the ones
before it stay applied. Fix the spec and apply it again.`,
		Example: "  featurevault apply -f examples/quickstart/spec.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := readInput(cmd.InOrStdin(), file, store.MaxSpecBytes)
			if err != nil {
				return err
			}
			spec, err := store.ParseSpec(data)
			if err != nil {
				return fmt.Errorf("%s: %w", displayName(file), err)
			}
			return applySpec(cmd.Context(), c, spec, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "spec file to apply; - reads standard input")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// applySpec sends each entity and then each view of spec to the server and
// prints one line per element saying what changed.
func applySpec(ctx context.Context, c *client, spec *store.Spec, out io.Writer) error {
	admin, err := c.admin()
	if err != nil {
		return err
	}
	for _, e := range spec.Entities {
		res, err := call(ctx, c, admin.ApplyEntity, &fvv1.ApplyEntityRequest{Entity: specpb.EntityToProto(e)})
		if err != nil {
			return fmt.Errorf("apply entity %q: %w", e.Name, err)
		}
		if res.GetCreated() {
			fmt.Fprintf(out, "entity %s: created (join key %s, %s)\n", e.Name, e.JoinKey, e.KeyType)
		} else {
			fmt.Fprintf(out, "entity %s: applied, already existed\n", e.Name)
		}
	}
	for _, v := range spec.Views {
		res, err := call(ctx, c, admin.ApplyFeatureView, &fvv1.ApplyFeatureViewRequest{View: specpb.ViewToProto(v)})
		if err != nil {
			return fmt.Errorf("apply view %q: %w", v.Name, err)
		}
		version := res.GetView().GetSchemaVersion()
		switch {
		case res.GetCreated():
			fmt.Fprintf(out, "view %s: created with %d fields (schema version %d)\n", v.Name, len(v.Fields), version)
		case len(res.GetAddedFields()) > 0:
			fmt.Fprintf(out, "view %s: added fields %s (schema version %d)\n", v.Name, strings.Join(res.GetAddedFields(), ", "), version)
		default:
			fmt.Fprintf(out, "view %s: applied, no fields added (schema version %d)\n", v.Name, version)
		}
	}
	return nil
}
