package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// actionNames spells the actions as the CLI takes and prints them, in the
// order explain reports them.
var actionNames = []struct {
	name   string
	action fvv1.Action
}{
	{"read", fvv1.Action_ACTION_READ},
	{"aggregate", fvv1.Action_ACTION_AGGREGATE},
	{"write", fvv1.Action_ACTION_WRITE},
	{"admin", fvv1.Action_ACTION_ADMIN},
}

// backupActionName is the action that streams backups. It is decided on
// "*" only, so explain, which reports columns, has no column for it.
const backupActionName = "backup"

func parseAction(s string) (fvv1.Action, error) {
	for _, a := range actionNames {
		if a.name == s {
			return a.action, nil
		}
	}
	if s == backupActionName {
		return fvv1.Action_ACTION_BACKUP, nil
	}
	return 0, fmt.Errorf("--action %q: use read, aggregate, write, admin or backup", s)
}

func actionName(a fvv1.Action) string {
	for _, n := range actionNames {
		if n.action == a {
			return n.name
		}
	}
	return strings.ToLower(strings.TrimPrefix(a.String(), "ACTION_"))
}

func newPolicyCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Grant, revoke, list and explain access rules",
		Long: `A rule gives a role an action on columns, for a purpose in an environment:

  featurevault policy grant ROLE --action read|aggregate|write|admin|backup \
      --on VIEW.FIELD|VIEW.*|tag:TAG|* [--purpose P] [--env E] [--deny]

--on names one column (customer_profile.income), every column of a view
(customer_profile.*), every column carrying a tag in any view (tag:pii), or
everything (*). --purpose and --env default to any (*). Access is denied
by default, and a --deny rule beats every allow, including allows a role
inherits. read is individual values; aggregate is differentially private
aggregates only; write is writing values; admin is the AdminService;
backup (on * only) is "featurevault backup", which role admin holds by
default: grant it to a backup job's role rather than admin.

Every change applies to the next request and is recorded in the audit log.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newPolicyChangeCmd(c, "grant", "Add a rule"),
		newPolicyChangeCmd(c, "revoke", "Remove a rule (the same arguments as grant)"),
		newPolicyListCmd(c),
		newPolicyExplainCmd(c),
	)
	return cmd
}

// ruleFlags are the flags that spell a rule, shared by grant and revoke.
type ruleFlags struct {
	action, on, purpose, env string
	deny                     bool
}

func (f *ruleFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.action, "action", "", "read, aggregate, write, admin or backup")
	fl.StringVar(&f.on, "on", "", "VIEW.FIELD, VIEW.*, tag:TAG or *")
	// These shadow the global --purpose (the purpose of data requests):
	// here they limit the rule.
	fl.StringVar(&f.purpose, "purpose", "*", "purpose the rule applies to; * for any")
	fl.StringVar(&f.env, "env", "*", "environment the rule applies to; * for any")
	fl.BoolVar(&f.deny, "deny", false, "deny instead of allow; a deny beats every allow")
	_ = cmd.MarkFlagRequired("action")
	_ = cmd.MarkFlagRequired("on")
}

func (f *ruleFlags) rule(role string) (*fvv1.Rule, error) {
	a, err := parseAction(f.action)
	if err != nil {
		return nil, err
	}
	if f.on == "" {
		return nil, errors.New("--on is empty; give VIEW.FIELD, VIEW.*, tag:TAG or *")
	}
	return &fvv1.Rule{Role: role, Action: a, Object: f.on, Purpose: f.purpose, Env: f.env, Deny: f.deny}, nil
}

func newPolicyChangeCmd(c *client, verb, short string) *cobra.Command {
	var f ruleFlags
	cmd := &cobra.Command{
		Use:   verb + " ROLE --action ACTION --on OBJECT [--purpose P] [--env E] [--deny]",
		Short: short,
		Example: fmt.Sprintf("  featurevault policy %[1]s analyst --action read --on 'customer_profile.*' --purpose analytics\n"+
			"  featurevault policy %[1]s analyst --action read --on tag:pii --deny", verb),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := f.rule(args[0])
			if err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if verb == "grant" {
				res, err := call(cmd.Context(), c, admin.GrantPolicy, &fvv1.GrantPolicyRequest{Rule: r})
				if err != nil {
					return err
				}
				if !res.GetChanged() {
					fmt.Fprintf(out, "already granted: %s\n", describeRule(r))
					return nil
				}
				fmt.Fprintf(out, "granted: %s\n", describeRule(r))
				return nil
			}
			if _, err := call(cmd.Context(), c, admin.RevokePolicy, &fvv1.RevokePolicyRequest{Rule: r}); err != nil {
				return err
			}
			fmt.Fprintf(out, "revoked: %s\n", describeRule(r))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// describeRule spells a rule for a person: "deny analyst read on tag:pii
// (purpose *, env *)".
func describeRule(r *fvv1.Rule) string {
	effect := "allow"
	if r.GetDeny() {
		effect = "deny"
	}
	return fmt.Sprintf("%s %s %s on %s (purpose %s, env %s)", effect, r.GetRole(), actionName(r.GetAction()), r.GetObject(),
		orAny(r.GetPurpose()), orAny(r.GetEnv()))
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func newPolicyListCmd(c *client) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List rules and role assignments",
		Long: `List prints every rule, then every role assignment: a principal holding a
role, or a role inheriting another.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json"); err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.ListPolicies, &fvv1.ListPoliciesRequest{})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), policiesToJSON(res))
			}
			return writePoliciesTable(cmd.OutOrStdout(), res)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// ruleJSON is a rule in -o json output.
type ruleJSON struct {
	Role    string `json:"role"`
	Effect  string `json:"effect"`
	Action  string `json:"action"`
	Object  string `json:"object"`
	Purpose string `json:"purpose"`
	Env     string `json:"env"`
}

type assignmentJSON struct {
	Member string `json:"member"`
	Role   string `json:"role"`
}

type policiesJSON struct {
	Rules       []ruleJSON       `json:"rules"`
	Assignments []assignmentJSON `json:"assignments"`
}

func policiesToJSON(res *fvv1.ListPoliciesResponse) policiesJSON {
	out := policiesJSON{Rules: []ruleJSON{}, Assignments: []assignmentJSON{}}
	for _, r := range res.GetRules() {
		effect := "allow"
		if r.GetDeny() {
			effect = "deny"
		}
		out.Rules = append(out.Rules, ruleJSON{Role: r.GetRole(), Effect: effect, Action: actionName(r.GetAction()),
			Object: r.GetObject(), Purpose: orAny(r.GetPurpose()), Env: orAny(r.GetEnv())})
	}
	for _, a := range res.GetAssignments() {
		out.Assignments = append(out.Assignments, assignmentJSON{Member: a.GetMember(), Role: a.GetRole()})
	}
	return out
}

func writePoliciesTable(w io.Writer, res *fvv1.ListPoliciesResponse) error {
	p := policiesToJSON(res)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tEFFECT\tACTION\tON\tPURPOSE\tENV")
	for _, r := range p.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Role, r.Effect, r.Action, r.Object, r.Purpose, r.Env)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tHAS ROLE")
	for _, a := range p.Assignments {
		fmt.Fprintf(tw, "%s\t%s\n", a.Member, a.Role)
	}
	return tw.Flush()
}

func newPolicyExplainCmd(c *client) *cobra.Command {
	var principal, view, purpose, env, output string
	cmd := &cobra.Command{
		Use:   "explain --principal P --view V --purpose X [--env E]",
		Short: "Show, for each column of a view, what a principal may do and which rule decided",
		Long: `Explain decides every action on every column of a view for a principal,
purpose and environment, exactly as requests are decided, and prints each
verdict with the rule that decided it: a rule as the policy spells it
("p, ROLE, OBJECT, ACTION, PURPOSE, ENV, allow|deny") or "default deny"
when no rule allows. --env defaults to the server's environment.

-o table prints one row per column with a column per action; -o json
prints {"principal", "view", "purpose", "env", "fields": [{"field", "tags",
"actions": {"read": {"allowed", "rule"}, ...}}]}.`,
		Example: "  featurevault policy explain --principal churn_trainer --view customer_profile --purpose training",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json"); err != nil {
				return err
			}
			if purpose == "" {
				return errors.New("policy explain needs --purpose: the purpose to decide for, such as training")
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.Explain, &fvv1.ExplainRequest{Principal: principal, View: view, Purpose: purpose, Env: env})
			if err != nil {
				return err
			}
			x := explanationToJSON(res, principal, view, purpose, env)
			ms, err := listMappings(cmd, c, principal)
			if err != nil {
				return err
			}
			for _, m := range ms {
				x.Identities = append(x.Identities, m.String())
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), x)
			}
			if err := writeExplainTable(cmd.OutOrStdout(), x); err != nil {
				return err
			}
			for _, m := range x.Identities {
				fmt.Fprintf(cmd.OutOrStdout(), "identity mapping: %s\n", m)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&principal, "principal", "", "principal to explain")
	f.StringVar(&view, "view", "", "feature view to explain")
	f.StringVar(&purpose, "purpose", "", "purpose to decide for, such as training")
	f.StringVar(&env, "env", "", "environment to decide for (default: the server's)")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	_ = cmd.MarkFlagRequired("principal")
	_ = cmd.MarkFlagRequired("view")
	return cmd
}

// verdictJSON is one action's verdict on one column.
type verdictJSON struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"`
}

type fieldExplanationJSON struct {
	Field   string                 `json:"field"`
	Tags    []string               `json:"tags"`
	Actions map[string]verdictJSON `json:"actions"`
}

type explanationJSON struct {
	Principal string                 `json:"principal"`
	View      string                 `json:"view"`
	Purpose   string                 `json:"purpose"`
	Env       string                 `json:"env,omitempty"`
	Fields    []fieldExplanationJSON `json:"fields"`
	// Identities lists the identity mappings to the principal and its
	// roles (OIDC claims, certificates), as IdentityMapping.String.
	Identities []string `json:"identities,omitempty"`
}

// explanationToJSON groups the server's decisions by column, in the
// server's column order.
func explanationToJSON(res *fvv1.ExplainResponse, principal, view, purpose, env string) explanationJSON {
	x := explanationJSON{Principal: principal, View: view, Purpose: purpose, Env: env, Fields: []fieldExplanationJSON{}}
	index := map[string]int{}
	for _, d := range res.GetDecisions() {
		i, ok := index[d.GetField()]
		if !ok {
			i = len(x.Fields)
			index[d.GetField()] = i
			tags := d.GetTags()
			if tags == nil {
				tags = []string{}
			}
			x.Fields = append(x.Fields, fieldExplanationJSON{Field: d.GetField(), Tags: tags, Actions: map[string]verdictJSON{}})
		}
		x.Fields[i].Actions[actionName(d.GetAction())] = verdictJSON{Allowed: d.GetAllowed(), Rule: d.GetRule()}
	}
	return x
}

// writeExplainTable prints one row per column and, per action, "allow" or
// "deny" with the deciding rule:
//
//	FIELD  TAGS  READ                                                   AGGREGATE            ...
//	email  pii   deny (p, analyst, tag:pii, read, *, *, deny)           deny (default deny)  ...
func writeExplainTable(w io.Writer, x explanationJSON) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "FIELD\tTAGS")
	for _, a := range actionNames {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(a.name))
	}
	fmt.Fprintln(tw)
	for _, f := range x.Fields {
		fmt.Fprintf(tw, "%s\t%s", f.Field, formatList(f.Tags))
		for _, a := range actionNames {
			v, ok := f.Actions[a.name]
			cell := "-"
			if ok {
				verdict := "deny"
				if v.Allowed {
					verdict = "allow"
				}
				cell = verdict + " (" + v.Rule + ")"
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
