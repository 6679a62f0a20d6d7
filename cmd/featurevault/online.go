package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// newMaterializeCmd is "featurevault materialize".
func newMaterializeCmd(c *client) *cobra.Command {
	var (
		view, since, mode string
	)
	cmd := &cobra.Command{
		Use:   "materialize --view VIEW [--since TIME]",
		Short: "Copy a view's latest rows from the store to the online tier (Redis)",
		Long: `Materialize copies the latest row of every entity of --view from the store
to the online tier of a server started with --online, as ciphertext, never
over a newer row already there. With --since (RFC 3339), only rows whose
event time is at or after it. Run it when the tier is first turned on, after
a restore, or after Redis lost its data; it is safe to run at any time and
to run again. Progress is shown on a terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if view == "" {
				return errors.New("--view is required: name the feature view to materialize")
			}
			req := &fvv1.MaterializeRequest{View: view}
			if since != "" {
				t, err := time.Parse(time.RFC3339Nano, since)
				if err != nil {
					return fmt.Errorf("--since %q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", since)
				}
				req.Since = timestamppb.New(t)
			}
			bar, err := newCountBar(cmd.ErrOrStderr(), mode, "materialize", "rows", 0)
			if err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			stream, err := admin.Materialize(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return c.explain(err)
			}
			defer stream.Close()
			var last *fvv1.MaterializeResponse
			for stream.Receive() {
				last = stream.Msg()
				bar.set(last.GetDone(), 0)
			}
			err = stream.Err()
			if last != nil {
				bar.finish(last.GetDone())
			}
			if errors.Is(err, context.Canceled) || cmd.Context().Err() != nil {
				return errors.New("materialize interrupted; rows already copied stay: run it again to finish")
			}
			if err != nil {
				return c.explain(err)
			}
			if last == nil || !last.GetFinished() {
				return errors.New("the server ended materialize without reporting its end; run it again")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "materialized %s rows of view %s into the online tier in %.1fs\n", group(last.GetDone()), view, last.GetElapsedSeconds())
			return nil
		},
	}
	cmd.Flags().StringVar(&view, "view", "", "feature view to materialize (required)")
	cmd.Flags().StringVar(&since, "since", "", "only rows whose event time is at or after this RFC 3339 time")
	cmd.Flags().StringVar(&mode, "progress", "auto", "progress bar: auto (on a terminal), always, never")
	return cmd
}

// newOnlineCmd is "featurevault online".
func newOnlineCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "online",
		Short: "Inspect the online tier (Redis Cluster) of a server started with --online",
	}
	var output string
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the online tier's health, lag (outbox depth and age) and hit rate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json"); err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			st, err := call(cmd.Context(), c, admin.GetOnlineStatus, &fvv1.GetOnlineStatusRequest{})
			if err != nil {
				return err
			}
			hitRate := 0.0
			if n := st.GetHits() + st.GetMisses(); n > 0 {
				hitRate = float64(st.GetHits()) / float64(n)
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{
					"enabled": st.GetEnabled(), "cluster_state": st.GetClusterState(), "up": st.GetUp(),
					"outbox_depth": st.GetOutboxDepth(), "outbox_oldest_seconds": st.GetOutboxOldestSeconds(),
					"hits": st.GetHits(), "misses": st.GetMisses(), "bypasses": st.GetBypasses(),
					"hit_rate": hitRate, "errors": st.GetErrors(), "corrupt_copies": st.GetCorruptCopies(),
				})
			}
			if !st.GetEnabled() {
				fmt.Fprintln(cmd.OutOrStdout(), "online tier: off (start the server with --online redis://host:port[,host:port...])")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "cluster state\t%s\n", st.GetClusterState())
			fmt.Fprintf(tw, "last Redis call\t%s\n", map[bool]string{true: "ok", false: "failed"}[st.GetUp()])
			fmt.Fprintf(tw, "outbox\t%d entries, oldest %.1fs\n", st.GetOutboxDepth(), st.GetOutboxOldestSeconds())
			fmt.Fprintf(tw, "reads\t%d hits, %d misses, %d bypasses (hit rate %.1f%%)\n", st.GetHits(), st.GetMisses(), st.GetBypasses(), 100*hitRate)
			fmt.Fprintf(tw, "Redis errors\t%d\n", st.GetErrors())
			fmt.Fprintf(tw, "corrupt copies\t%d\n", st.GetCorruptCopies())
			return tw.Flush()
		},
	}
	status.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(status)
	return cmd
}
