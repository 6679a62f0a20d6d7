package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func newQueryCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Ask differentially private questions about a column",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newQueryAggregateCmd(c))
	return cmd
}

var aggregateFunctions = map[string]fvv1.AggregateFunction{
	"count":     fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT,
	"sum":       fvv1.AggregateFunction_AGGREGATE_FUNCTION_SUM,
	"mean":      fvv1.AggregateFunction_AGGREGATE_FUNCTION_MEAN,
	"histogram": fvv1.AggregateFunction_AGGREGATE_FUNCTION_HISTOGRAM,
}

func newQueryAggregateCmd(c *client) *cobra.Command {
	var (
		view, field, fn, buckets, output string
		epsilon, delta                   float64
		maxContrib                       int32
		start, end                       string
	)
	cmd := &cobra.Command{
		Use:   "aggregate --view V --field F --fn count|sum|mean|histogram --epsilon E [--delta D]",
		Short: "A count, sum, mean or histogram of one column, with differential privacy",
		Long: `Aggregate asks the server for a noisy count, sum, mean or histogram of one
column. It needs the aggregate action on the column (not read: a principal
with aggregate alone never sees a value), and it spends --epsilon (and
--delta) of the caller's privacy budget before the answer is released.
Each entity contributes at most --max-contributions rows; values are
clamped to the bounds the field declares.`,
		Example: "  featurevault query aggregate --view customer_profile --field income --fn mean --epsilon 0.5 --purpose analytics",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "text", "json"); err != nil {
				return err
			}
			f, ok := aggregateFunctions[fn]
			if !ok {
				return fmt.Errorf("--fn %q: use count, sum, mean or histogram", fn)
			}
			req := &fvv1.AggregateRequest{View: view, Field: field, Function: f, Epsilon: epsilon, Delta: delta, MaxContributions: maxContrib}
			var err error
			if req.Buckets, err = parseBuckets(buckets); err != nil {
				return err
			}
			if req.StartTime, err = parseOptionalTime("--start", start); err != nil {
				return err
			}
			if req.EndTime, err = parseOptionalTime("--end", end); err != nil {
				return err
			}
			fs, err := c.features()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, fs.Aggregate, req)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			out := cmd.OutOrStdout()
			if f == fvv1.AggregateFunction_AGGREGATE_FUNCTION_HISTOGRAM {
				for i, n := range res.GetCounts() {
					fmt.Fprintf(out, "[%g, %g)\t%g\n", req.Buckets[i], req.Buckets[i+1], n)
				}
			} else {
				fmt.Fprintf(out, "%s(%s.%s) = %g\n", fn, view, field, res.GetValue())
			}
			fmt.Fprintf(out, "noise: %s, standard deviation %g, grid step %g\n", res.GetMechanism(), res.GetNoiseStddev(), res.GetGridStep())
			fmt.Fprintf(out, "spent epsilon %g, delta %g; remaining epsilon %g, delta %g\n", res.GetEpsilonSpent(), res.GetDeltaSpent(), res.GetEpsilonRemaining(), res.GetDeltaRemaining())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&view, "view", "", "feature view")
	fl.StringVar(&field, "field", "", "column to aggregate")
	fl.StringVar(&fn, "fn", "", "count, sum, mean or histogram")
	fl.Float64Var(&epsilon, "epsilon", 0, "privacy loss of this query (> 0), spent from the caller's budget")
	fl.Float64Var(&delta, "delta", 0, "in [0, 1): 0 for pure epsilon-DP (discrete Laplace), > 0 for the discrete Gaussian")
	fl.Int32Var(&maxContrib, "max-contributions", 1, "most rows one entity contributes")
	fl.StringVar(&buckets, "buckets", "", "histogram bucket edges, ascending and comma-separated, e.g. 0,1000,10000")
	fl.StringVar(&start, "start", "", "only rows with event time at or after this RFC 3339 time")
	fl.StringVar(&end, "end", "", "only rows with event time before this RFC 3339 time")
	fl.StringVarP(&output, "output", "o", "text", "output format: text or json")
	for _, f := range []string{"view", "field", "fn", "epsilon"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func parseBuckets(s string) ([]float64, error) {
	if s == "" {
		return nil, nil
	}
	var out []float64
	for _, p := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("--buckets: %q is not a number; give ascending edges such as 0,1000,10000", p)
		}
		out = append(out, x)
	}
	return out, nil
}

func parseOptionalTime(flag, s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", flag, s)
	}
	return timestamppb.New(t), nil
}

func newBudgetCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "budget",
		Short: "Set, show and reset principals' privacy budgets",
		Args:  cobra.NoArgs,
	}
	var epsilon, delta float64
	set := &cobra.Command{
		Use:   "set PRINCIPAL --epsilon E [--delta D]",
		Short: "Set a principal's total privacy budget (what it has spent is kept)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return budgetCall(cmd, c, func(admin adminClient) (*fvv1.BudgetAccount, error) {
				res, err := call(cmd.Context(), c, admin.SetBudget, &fvv1.SetBudgetRequest{Principal: args[0], Epsilon: epsilon, Delta: delta})
				return res.GetAccount(), err
			})
		},
	}
	set.Flags().Float64Var(&epsilon, "epsilon", 0, "total epsilon the principal may spend")
	set.Flags().Float64Var(&delta, "delta", 0, "total delta the principal may spend")
	_ = set.MarkFlagRequired("epsilon")
	show := &cobra.Command{
		Use:   "show PRINCIPAL",
		Short: "Show a principal's budget: total, spent, remaining",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return budgetCall(cmd, c, func(admin adminClient) (*fvv1.BudgetAccount, error) {
				res, err := call(cmd.Context(), c, admin.GetBudget, &fvv1.GetBudgetRequest{Principal: args[0]})
				return res.GetAccount(), err
			})
		},
	}
	reset := &cobra.Command{
		Use:   "reset PRINCIPAL",
		Short: "Set what a principal has spent back to zero",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return budgetCall(cmd, c, func(admin adminClient) (*fvv1.BudgetAccount, error) {
				res, err := call(cmd.Context(), c, admin.ResetBudget, &fvv1.ResetBudgetRequest{Principal: args[0]})
				return res.GetAccount(), err
			})
		},
	}
	cmd.AddCommand(set, show, reset)
	return cmd
}

func budgetCall(cmd *cobra.Command, c *client, op func(adminClient) (*fvv1.BudgetAccount, error)) error {
	admin, err := c.admin()
	if err != nil {
		return err
	}
	a, err := op(admin)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: epsilon %g of %g spent, %g remaining; delta %g of %g spent, %g remaining\n",
		a.GetPrincipal(), a.GetEpsilonSpent(), a.GetEpsilonTotal(), a.GetEpsilonRemaining(), a.GetDeltaSpent(), a.GetDeltaTotal(), a.GetDeltaRemaining())
	return nil
}
