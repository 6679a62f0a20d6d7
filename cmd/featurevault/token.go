package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func newTokenCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue short-lived JWTs for principals",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newTokenIssueCmd(c))
	return cmd
}

func newTokenIssueCmd(c *client) *cobra.Command {
	var (
		ttl    time.Duration
		output string
	)
	cmd := &cobra.Command{
		Use:   "issue PRINCIPAL --ttl 1h",
		Short: "Issue a signed JWT for a principal, valid for --ttl",
		Long: `Issue prints a JWT signed by the server for PRINCIPAL, valid for --ttl.
Use it as a bearer token like the principal's own token (--token or
FEATUREVAULT_TOKEN). The JWT carries no roles or attributes: they are read
from the server on every request, so revoking the principal stops its JWTs
at once too. The server does not store JWTs: this is the only copy.`,
		Example: "  FEATUREVAULT_TOKEN=$(featurevault token issue churn_trainer --ttl 1h -o json | jq -r .token)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, "text", "json"); err != nil {
				return err
			}
			if ttl < time.Second || ttl%time.Second != 0 {
				return fmt.Errorf("--ttl %s: give a whole number of seconds, at least 1s, such as 15m or 1h", ttl)
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.IssueToken, &fvv1.IssueTokenRequest{Principal: args[0], TtlSeconds: int64(ttl / time.Second)})
			if err != nil {
				return err
			}
			expires := res.GetExpiresAt().AsTime().UTC()
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), struct {
					Principal string    `json:"principal"`
					Token     string    `json:"token"`
					ExpiresAt time.Time `json:"expires_at"`
				}{args[0], res.GetToken(), expires})
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "token: %s\n", res.GetToken())
			fmt.Fprintf(out, "expires: %s\n", expires.Format(time.RFC3339))
			fmt.Fprintln(out, "The token will not be shown again: the server does not store it.")
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the token is valid, e.g. 15m or 1h")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
