package main

import (
	"fmt"

	"github.com/spf13/cobra"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func newRoleCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Assign roles to principals, or make a role inherit another",
		Long: `Role assign gives PRINCIPAL the role ROLE. When PRINCIPAL names no principal
but a role, that role inherits ROLE: every member of it gets ROLE's rules
(deny rules included). A change applies to the next request.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:     "assign PRINCIPAL ROLE",
			Short:   "Give a principal (or a role) a role",
			Example: "  featurevault role assign churn_trainer analyst\n  featurevault role assign senior_analyst analyst   # a role inheriting a role",
			Args:    cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				admin, err := c.admin()
				if err != nil {
					return err
				}
				if _, err := call(cmd.Context(), c, admin.AssignRole, &fvv1.AssignRoleRequest{Principal: args[0], Role: args[1]}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "assigned role %s to %s\n", args[1], args[0])
				return nil
			},
		},
		&cobra.Command{
			Use:   "unassign PRINCIPAL ROLE",
			Short: "Take a role from a principal (or a role)",
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				admin, err := c.admin()
				if err != nil {
					return err
				}
				if _, err := call(cmd.Context(), c, admin.UnassignRole, &fvv1.UnassignRoleRequest{Principal: args[0], Role: args[1]}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "unassigned role %s from %s\n", args[1], args[0])
				return nil
			},
		},
	)
	return cmd
}
