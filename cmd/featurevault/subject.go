package main

import (
	"fmt"

	"github.com/spf13/cobra"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func newSubjectCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subject",
		Short: "Serve data subjects' requests: export their data, restrict its use",
		Long: `Subject commands answer a data subject's requests (GDPR, CCPA):

  featurevault subject export --entity E --key K           right of access and portability
  featurevault subject restrict --entity E --key K --purpose P     restriction / opt-out
  featurevault subject unrestrict --entity E --key K --purpose P

Erasure is "featurevault erase". Every one of these is an audited admin
action that names the subject by blind index in the audit log.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newSubjectExportCmd(c), newSubjectRestrictCmd(c, true), newSubjectRestrictCmd(c, false))
	return cmd
}

func subjectFlags(cmd *cobra.Command, entity, key *string) {
	cmd.Flags().StringVar(entity, "entity", "", "entity of the subject, e.g. customer")
	cmd.Flags().StringVar(key, "key", "", "the subject's entity key")
	_ = cmd.MarkFlagRequired("entity")
	_ = cmd.MarkFlagRequired("key")
}

type subjectRowJSON struct {
	EventTime   string         `json:"event_time"`
	CreatedTime string         `json:"created_time"`
	Expired     bool           `json:"expired,omitempty"`
	Values      map[string]any `json:"values"`
}

type subjectExportJSON struct {
	Entity       string                      `json:"entity"`
	Key          string                      `json:"key"`
	BlindIndex   string                      `json:"blind_index"`
	Views        map[string][]subjectRowJSON `json:"views"`
	Restrictions map[string]string           `json:"restrictions"`
}

func newSubjectExportCmd(c *client) *cobra.Command {
	var (
		entity, key string
		all         bool
	)
	cmd := &cobra.Command{
		Use:   "export --entity E --key K [--all]",
		Short: "Print everything stored about a subject, as JSON",
		Long: `Export prints the subject's current features — the latest row of every
view of its entity — as one JSON document, in the value forms "put" reads;
--all prints every stored row instead, newest first. It also lists the
purposes the subject is restricted for. The output holds personal data:
hand it to the subject, do not keep it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.ExportSubject, &fvv1.ExportSubjectRequest{Entity: entity, Key: key, AllRows: all})
			if err != nil {
				return err
			}
			out := subjectExportJSON{Entity: res.GetEntity(), Key: res.GetEntityKey(), BlindIndex: res.GetBlindIndex(), Views: map[string][]subjectRowJSON{}, Restrictions: map[string]string{}}
			for _, v := range res.GetViews() {
				rows := []subjectRowJSON{}
				for _, r := range v.GetRows() {
					j := subjectRowJSON{EventTime: tsString(r.GetEventTime()), CreatedTime: tsString(r.GetCreatedTime()), Expired: r.GetExpired(), Values: map[string]any{}}
					for i, f := range v.GetFields() {
						if i < len(r.GetValues()) {
							j.Values[f.GetName()] = valueJSON(r.GetValues()[i])
						}
					}
					rows = append(rows, j)
				}
				out.Views[v.GetView()] = rows
			}
			for _, r := range res.GetRestrictions() {
				out.Restrictions[r.GetPurpose()] = tsString(r.GetSince())
			}
			return writeJSON(cmd.OutOrStdout(), out)
		},
	}
	subjectFlags(cmd, &entity, &key)
	cmd.Flags().BoolVar(&all, "all", false, "export every stored row, not only the latest of each view")
	return cmd
}

func newSubjectRestrictCmd(c *client, add bool) *cobra.Command {
	var entity, key, purpose string
	use, short := "restrict", "Exclude a subject from the reads made for a purpose (opt-out)"
	if !add {
		use, short = "unrestrict", "Lift a restriction made by subject restrict"
	}
	cmd := &cobra.Command{
		Use:   use + " --entity E --key K --purpose P",
		Short: short,
		Long: short + `.

A restricted subject is left out of online reads (it reads as NOT_FOUND),
batch exports, point-in-time joins and aggregates whose request states that
purpose; --purpose '*' restricts every purpose, including requests that
state none. The subject's data stays stored (use "featurevault erase" to
delete it). A restriction can be recorded before any data of the subject
exists.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := c.admin()
			if err != nil {
				return err
			}
			var bi string
			var changed bool
			if add {
				res, err := call(cmd.Context(), c, admin.RestrictSubject, &fvv1.RestrictSubjectRequest{Entity: entity, Key: key, Purpose: purpose})
				if err != nil {
					return err
				}
				bi, changed = res.GetBlindIndex(), res.GetChanged()
			} else {
				res, err := call(cmd.Context(), c, admin.UnrestrictSubject, &fvv1.UnrestrictSubjectRequest{Entity: entity, Key: key, Purpose: purpose})
				if err != nil {
					return err
				}
				bi, changed = res.GetBlindIndex(), res.GetChanged()
			}
			out := cmd.OutOrStdout()
			switch {
			case add && changed:
				fmt.Fprintf(out, "subject %s is restricted for purpose %s\n", bi, purpose)
			case add:
				fmt.Fprintf(out, "subject %s was already restricted for purpose %s\n", bi, purpose)
			case changed:
				fmt.Fprintf(out, "subject %s is no longer restricted for purpose %s\n", bi, purpose)
			default:
				fmt.Fprintf(out, "subject %s was not restricted for purpose %s\n", bi, purpose)
			}
			return nil
		},
	}
	subjectFlags(cmd, &entity, &key)
	cmd.Flags().StringVar(&purpose, "purpose", "", "the purpose, e.g. training; '*' for every purpose")
	_ = cmd.MarkFlagRequired("purpose")
	return cmd
}
