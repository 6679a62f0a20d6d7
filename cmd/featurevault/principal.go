package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func newPrincipalCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "principal",
		Short: "Create, list and revoke principals (callers with bearer tokens)",
		Long: `A principal is a caller: a person, a service or a job. It holds roles, to
which policy rules grant actions on columns, and attributes: purpose lists
the purposes its requests may claim, env the environments it may act in.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newPrincipalCreateCmd(c), newPrincipalListCmd(c), newPrincipalRevokeCmd(c))
	cmd.AddCommand(newIdentityMappingCmds(c)...)
	return cmd
}

func newPrincipalCreateCmd(c *client) *cobra.Command {
	var (
		roles  []string
		attrs  []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE[,ROLE] [--attr purpose=training|analytics,env=prod]",
		Short: "Create a principal and print its bearer token, once",
		Long: `Create creates a principal with the given roles and attributes and prints
its bearer token. The token is shown once: the server keeps only its hash,
so store it now (a secret manager, or FEATUREVAULT_TOKEN for the CLI).

--attr takes attributes separated by commas, each KEY=VALUE with several
values separated by "|": --attr purpose=training|analytics,env=prod lets the
principal claim the purposes training and analytics, in the prod
environment only. Quote it in a shell: "|" is a pipe there.

Names are lower-case letters, digits and _, starting with a letter; a name
with a comma, quote, space or newline is refused.`,
		Example: `  featurevault principal create churn_trainer --role trainer --attr 'purpose=training|analytics,env=prod'`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(output, "text", "json"); err != nil {
				return err
			}
			roleList, err := splitList("--role", roles)
			if err != nil {
				return err
			}
			attrMap, err := parseAttrs(attrs)
			if err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.CreatePrincipal, &fvv1.CreatePrincipalRequest{
				Name: args[0], Roles: roleList, Attributes: attrsToProto(attrMap),
			})
			if err != nil {
				return err
			}
			const notice = "The token will not be shown again: the server keeps only its hash. Store it now (for the CLI: FEATUREVAULT_TOKEN)."
			if output == "json" {
				fmt.Fprintln(cmd.ErrOrStderr(), notice)
				return writeJSON(cmd.OutOrStdout(), struct {
					Principal principalJSON `json:"principal"`
					Token     string        `json:"token"`
				}{principalToJSON(res.GetPrincipal()), res.GetToken()})
			}
			p := res.GetPrincipal()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "created principal %s with roles %s and attributes %s\n", p.GetName(), formatList(p.GetRoles()), formatAttrs(p.GetAttributes()))
			fmt.Fprintf(out, "token: %s\n", res.GetToken())
			fmt.Fprintln(out, notice)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&roles, "role", nil, "roles to assign, comma-separated; may repeat")
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "attributes, e.g. 'purpose=training|analytics,env=prod'; may repeat")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newPrincipalListCmd(c *client) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List principals, their roles and attributes",
		Long: `List prints every principal, revoked ones included, with its direct roles
(roles it inherits through other roles are in "featurevault policy list")
and its attributes in the --attr syntax. No token is ever shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json"); err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.ListPrincipals, &fvv1.ListPrincipalsRequest{})
			if err != nil {
				return err
			}
			if output == "json" {
				out := struct {
					Principals []principalJSON `json:"principals"`
				}{Principals: []principalJSON{}}
				for _, p := range res.GetPrincipals() {
					out.Principals = append(out.Principals, principalToJSON(p))
				}
				return writeJSON(cmd.OutOrStdout(), out)
			}
			return writePrincipalsTable(cmd.OutOrStdout(), res.GetPrincipals())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newPrincipalRevokeCmd(c *client) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a principal: its tokens and JWTs stop working at once",
		Long: `Revoke disables a principal. Its bearer tokens and JWTs are refused from
the next request on (Unauthenticated). The name is never reused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin, err := c.admin()
			if err != nil {
				return err
			}
			if _, err := call(cmd.Context(), c, admin.RevokePrincipal, &fvv1.RevokePrincipalRequest{Name: args[0]}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked principal %s: its tokens no longer authenticate\n", args[0])
			return nil
		},
	}
}

// principalJSON is a principal in -o json output.
type principalJSON struct {
	Name       string              `json:"name"`
	Roles      []string            `json:"roles"`
	Attributes map[string][]string `json:"attributes"`
	Revoked    bool                `json:"revoked"`
	CreatedAt  *time.Time          `json:"created_at,omitempty"`
}

func principalToJSON(p *fvv1.Principal) principalJSON {
	out := principalJSON{Name: p.GetName(), Roles: p.GetRoles(), Attributes: map[string][]string{}, Revoked: p.GetRevoked()}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	for k, v := range p.GetAttributes() {
		out.Attributes[k] = v.GetValues()
	}
	if p.GetCreatedAt() != nil {
		t := p.GetCreatedAt().AsTime()
		out.CreatedAt = &t
	}
	return out
}

func writePrincipalsTable(w io.Writer, ps []*fvv1.Principal) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLES\tATTRIBUTES\tSTATUS\tCREATED")
	for _, p := range ps {
		status := "active"
		if p.GetRevoked() {
			status = "revoked"
		}
		created := "-"
		if p.GetCreatedAt() != nil {
			created = p.GetCreatedAt().AsTime().UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tableCell(p.GetName()), tableCell(formatList(p.GetRoles())),
			tableCell(formatAttrs(p.GetAttributes())), status, created)
	}
	return tw.Flush()
}

// formatList joins names with commas, or "-" for none.
func formatList(names []string) string {
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}

// writeJSON prints v as indented JSON, leaving <, > and & as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
