package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// identities returns an IdentityService client for --server.
func (c *client) identities() (featurevaultv1connect.IdentityServiceClient, error) {
	base, opts, err := c.connect(false)
	if err != nil {
		return nil, err
	}
	return featurevaultv1connect.NewIdentityServiceClient(c.http, base, opts...), nil
}

// newIdentityMappingCmds returns the principal subcommands that map
// external identities: map-oidc, unmap-oidc, map-cert, unmap-cert and
// mappings.
func newIdentityMappingCmds(c *client) []*cobra.Command {
	return []*cobra.Command{
		newMapOIDCCmd(c, false), newMapOIDCCmd(c, true),
		newMapCertCmd(c, false), newMapCertCmd(c, true),
		newMappingsCmd(c),
	}
}

func newMapOIDCCmd(c *client, unmap bool) *cobra.Command {
	var m fvv1.IdentityMapping
	verb, use := "map-oidc", "Map an OIDC token's claim to a principal, a role, or the purposes it may state"
	if unmap {
		verb, use = "unmap-oidc", "Remove a mapping made with map-oidc (give the same flags)"
	}
	cmd := &cobra.Command{
		Use:   verb + " --issuer URL --claim CLAIM (--value V (--principal P | --role R) | --purposes)",
		Short: use,
		Long: `A token from a trusted OIDC issuer (serve --oidc-issuer) authenticates as the
principal one of its claims maps to: --claim sub --value SUBJECT (or email,
or any claim; a list claim matches if it holds the value). A token must map
to exactly one principal, whose roles and attributes then apply.

--role maps a claim value to a role granted for that request on top of the
principal's (a groups claim: --claim groups --value data-science --role
analyst). --purposes names the claim that lists the purposes a token may
state; it narrows the principal's purpose attribute, never widens it.
Every change is recorded in the audit log.`,
		Example: `  featurevault principal map-oidc --issuer https://sso.example.com/realms/prod --claim sub --value 6f1c... --principal churn_trainer
  featurevault principal map-oidc --issuer https://sso.example.com/realms/prod --claim groups --value data-science --role analyst
  featurevault principal map-oidc --issuer https://sso.example.com/realms/prod --claim fv_purposes --purposes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m.Source = string(policy.SourceOIDC)
			return sendMapping(cmd, c, &m, unmap)
		},
	}
	f := cmd.Flags()
	f.StringVar(&m.Issuer, "issuer", "", "the issuer URL, exactly as its tokens' iss claim spells it")
	f.StringVar(&m.Claim, "claim", "sub", "the claim to match: sub, email, groups, ...")
	f.StringVar(&m.Value, "value", "", "the claim value to match")
	f.StringVar(&m.Principal, "principal", "", "the principal a matching token authenticates as")
	f.StringVar(&m.Role, "role", "", "a role a matching token gets for its request")
	f.BoolVar(&m.Purposes, "purposes", false, "the claim lists the purposes a token may state")
	_ = cmd.MarkFlagRequired("issuer")
	return cmd
}

func newMapCertCmd(c *client, unmap bool) *cobra.Command {
	var spiffeID, subject, principal string
	verb, use := "map-cert", "Map a client certificate's SPIFFE ID or subject to a principal"
	if unmap {
		verb, use = "unmap-cert", "Remove a mapping made with map-cert (give the same flags)"
	}
	cmd := &cobra.Command{
		Use:   verb + " (--spiffe-id spiffe://DOMAIN/PATH | --subject DN) --principal P",
		Short: use,
		Long: `With serve --tls-client-ca, a request without a bearer token authenticates
with its client certificate: its SPIFFE ID (URI SAN), or else its subject
as Go prints it ("CN=trainer,O=Example"), maps to a principal. A certificate
with no mapping gets no access. A bearer token, when sent, names the
principal instead. Every change is recorded in the audit log.`,
		Example: "  featurevault principal map-cert --spiffe-id spiffe://example.org/ns/prod/sa/trainer --principal churn_trainer",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := fvv1.IdentityMapping{Source: string(policy.SourceCert), Principal: principal}
			switch {
			case (spiffeID == "") == (subject == ""):
				return errors.New("give one of --spiffe-id and --subject")
			case spiffeID != "":
				m.Claim, m.Value = policy.CertClaimSPIFFE, spiffeID
			default:
				m.Claim, m.Value = policy.CertClaimSubject, subject
			}
			return sendMapping(cmd, c, &m, unmap)
		},
	}
	f := cmd.Flags()
	f.StringVar(&spiffeID, "spiffe-id", "", "the certificate's SPIFFE ID")
	f.StringVar(&subject, "subject", "", "the certificate's subject distinguished name, e.g. CN=trainer,O=Example")
	f.StringVar(&principal, "principal", "", "the principal the certificate authenticates as")
	_ = cmd.MarkFlagRequired("principal")
	return cmd
}

func sendMapping(cmd *cobra.Command, c *client, m *fvv1.IdentityMapping, unmap bool) error {
	svc, err := c.identities()
	if err != nil {
		return err
	}
	desc := mappingFromProto(m).String()
	if unmap {
		if _, err := call(cmd.Context(), c, svc.UnmapIdentity, &fvv1.UnmapIdentityRequest{Mapping: m}); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "unmapped %s\n", desc)
		return nil
	}
	if _, err := call(cmd.Context(), c, svc.MapIdentity, &fvv1.MapIdentityRequest{Mapping: m}); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "mapped %s\n", desc)
	return nil
}

func newMappingsCmd(c *client) *cobra.Command {
	var principal, output string
	cmd := &cobra.Command{
		Use:   "mappings [--principal P] [-o table|json]",
		Short: "List the identity mappings (OIDC claims and certificates to principals, roles, purposes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json"); err != nil {
				return err
			}
			ms, err := listMappings(cmd, c, principal)
			if err != nil {
				return err
			}
			if output == "json" {
				if ms == nil {
					ms = []policy.IdentityMapping{}
				}
				return writeJSON(cmd.OutOrStdout(), ms)
			}
			return writeMappingsTable(cmd.OutOrStdout(), ms)
		},
	}
	cmd.Flags().StringVar(&principal, "principal", "", "only the mappings to this principal and to its roles")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func listMappings(cmd *cobra.Command, c *client, principal string) ([]policy.IdentityMapping, error) {
	svc, err := c.identities()
	if err != nil {
		return nil, err
	}
	res, err := call(cmd.Context(), c, svc.ListIdentityMappings, &fvv1.ListIdentityMappingsRequest{Principal: principal})
	if err != nil {
		return nil, err
	}
	var out []policy.IdentityMapping
	for _, m := range res.GetMappings() {
		out = append(out, mappingFromProto(m))
	}
	return out, nil
}

func writeMappingsTable(w io.Writer, ms []policy.IdentityMapping) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tISSUER\tCLAIM\tVALUE\tMAPS TO")
	for _, m := range ms {
		to := "principal " + m.Principal
		switch {
		case m.Role != "":
			to = "role " + m.Role
		case m.Purposes:
			to = "purposes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Source, orDash(m.Issuer), tableCell(m.Claim), tableCell(orDash(m.Value)), to)
	}
	return tw.Flush()
}

func mappingFromProto(m *fvv1.IdentityMapping) policy.IdentityMapping {
	return policy.IdentityMapping{
		Source: policy.IdentitySource(m.GetSource()), Issuer: m.GetIssuer(), Claim: m.GetClaim(), Value: m.GetValue(),
		Principal: m.GetPrincipal(), Role: m.GetRole(), Purposes: m.GetPurposes(),
	}
}
