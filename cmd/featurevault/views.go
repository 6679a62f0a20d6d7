package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/featurevault/featurevault/internal/specpb"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

func newViewsCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "views",
		Short: "List and show feature views",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newViewsListCmd(c), newViewsGetCmd(c))
	return cmd
}

func newViewsListCmd(c *client) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List feature views",
		Long: `List prints every feature view: a table by default, the API's JSON with
-o json, or with -o yaml the whole registry as one spec file that
"featurevault apply" accepts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json", "yaml"); err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.ListFeatureViews, &fvv1.ListFeatureViewsRequest{})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				return writeProtoJSON(out, res)
			case "yaml":
				return writeSpecYAML(out, res.GetEntities(), res.GetViews())
			}
			return writeViewsTable(out, res.GetViews())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

func newViewsGetCmd(c *client) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show one feature view",
		Long: `Get prints a feature view and its entity as a spec file that
"featurevault apply" accepts (-o yaml, the default), or as the API's JSON,
which also shows the schema version (-o json).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, "yaml", "json"); err != nil {
				return err
			}
			res, err := getView(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return writeProtoJSON(cmd.OutOrStdout(), res)
			}
			return writeSpecYAML(cmd.OutOrStdout(), []*fvv1.Entity{res.GetEntity()}, []*fvv1.FeatureView{res.GetView()})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func getView(ctx context.Context, c *client, name string) (*fvv1.GetFeatureViewResponse, error) {
	admin, err := c.admin()
	if err != nil {
		return nil, err
	}
	return call(ctx, c, admin.GetFeatureView, &fvv1.GetFeatureViewRequest{Name: name})
}

// writeSpecYAML prints entities and views as a spec file, with the same
// printer the store uses, so the output applies back unchanged.
func writeSpecYAML(w io.Writer, entities []*fvv1.Entity, views []*fvv1.FeatureView) error {
	spec := &store.Spec{}
	for _, e := range entities {
		se, err := specpb.EntityFromProto(e)
		if err != nil {
			return err
		}
		spec.Entities = append(spec.Entities, se)
	}
	for _, v := range views {
		sv, err := specpb.ViewFromProto(v)
		if err != nil {
			return err
		}
		spec.Views = append(spec.Views, sv)
	}
	data, err := store.MarshalSpec(spec)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// writeProtoJSON prints an API message as indented JSON with the field
// names of the .proto files. protojson varies its whitespace on purpose,
// so the output is re-indented to be stable.
func writeProtoJSON(w io.Writer, m proto.Message) error {
	data, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(w)
	return err
}

// writeViewsTable prints one line per view.
func writeViewsTable(w io.Writer, views []*fvv1.FeatureView) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tENTITY\tFIELDS\tTTL\tVERSION\tDESCRIPTION")
	for _, v := range views {
		ttl := "-"
		if v.GetTtlSeconds() > 0 {
			ttl = shortDuration(time.Duration(v.GetTtlSeconds()) * time.Second)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\n", v.GetName(), v.GetEntity(), len(v.GetFields()), ttl,
			v.GetSchemaVersion(), tableCell(v.GetDescription()))
	}
	return tw.Flush()
}

// checkFormat refuses an -o value that is not one of allowed.
func checkFormat(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return fmt.Errorf("-o %q: use %s", format, strings.Join(allowed, ", "))
}

// shortDuration writes d as a spec would: 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
