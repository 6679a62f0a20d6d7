package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func newKeysCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Rotate, re-wrap and retire the keys of the hierarchy; show their status",
		Long: `The key hierarchy: a root key in a KMS wraps the KEK (key-encryption key),
which wraps one key per data subject. Rotating keeps each level fresh, and
retiring a KEK version is what makes an erasure final for backups too:

  featurevault keys rotate              new KEK version, primary from now on
  featurevault keys rewrap              re-wrap every subject key under it (resumable)
  featurevault keys retire VERSION      destroy the old version once nothing uses it
  featurevault keys status              versions, what each wraps, ages

After "retire", no backup of the keystore can decrypt a subject erased
before the rotation: that is the shred horizon (docs/shred-horizon.md).
"serve --kek-rotation" runs the cycle on a schedule.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKeysStatusCmd(c), newKeysRotateCmd(c), newKeysRotateRootCmd(c), newKeysRewrapCmd(c), newKeysRetireCmd(c), newKeysRotateSubjectCmd(c))
	return cmd
}

func newKeysStatusCmd(c *client) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the KEK versions, how many keys each wraps and their ages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, "table", "json"); err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			st, err := call(cmd.Context(), c, admin.GetKeyStatus, &fvv1.GetKeyStatusRequest{})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), keyStatusJSON(st, time.Now()))
			}
			return writeKeyStatus(cmd.OutOrStdout(), st, time.Now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

type kekVersionJSON struct {
	Version        uint32 `json:"version"`
	Primary        bool   `json:"primary"`
	Created        string `json:"created,omitempty"`
	AgeSeconds     int64  `json:"age_seconds,omitempty"`
	SubjectKeys    int64  `json:"subject_keys"`
	ServiceKeysets int64  `json:"service_keysets"`
}

type keyStatusOut struct {
	KMS          string           `json:"kms"`
	RootVersion  string           `json:"root_version,omitempty"`
	RootVersions int32            `json:"root_versions,omitempty"`
	RootRotated  string           `json:"root_rotated,omitempty"`
	Versions     []kekVersionJSON `json:"versions"`
	Retired      []map[string]any `json:"retired"`
	SubjectKeys  int64            `json:"subject_keys"`
	Unattributed int64            `json:"unattributed"`
	Rewrap       map[string]any   `json:"unfinished_rewrap,omitempty"`
	LastRewrap   string           `json:"last_rewrap,omitempty"`
}

func tsString(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return formatTime(t.AsTime())
}

func keyStatusJSON(st *fvv1.GetKeyStatusResponse, now time.Time) keyStatusOut {
	out := keyStatusOut{
		KMS: st.GetKms(), RootVersion: st.GetRootVersion(), RootVersions: st.GetRootVersions(), RootRotated: tsString(st.GetRootRotated()),
		Versions: []kekVersionJSON{}, Retired: []map[string]any{}, SubjectKeys: st.GetSubjectKeys(), Unattributed: st.GetUnattributed(),
		LastRewrap: tsString(st.GetLastRewrap()),
	}
	for _, v := range st.GetVersions() {
		j := kekVersionJSON{Version: v.GetId(), Primary: v.GetPrimary(), Created: tsString(v.GetCreated()), SubjectKeys: v.GetSubjectKeys(), ServiceKeysets: v.GetServiceKeysets()}
		if v.GetCreated() != nil {
			j.AgeSeconds = int64(now.Sub(v.GetCreated().AsTime()).Seconds())
		}
		out.Versions = append(out.Versions, j)
	}
	for _, r := range st.GetRetired() {
		out.Retired = append(out.Retired, map[string]any{"version": r.GetId(), "retired": tsString(r.GetRetired())})
	}
	if r := st.GetRewrap(); r != nil {
		out.Rewrap = map[string]any{"target": r.GetTarget(), "done": r.GetDone(), "started": tsString(r.GetStarted())}
	}
	return out
}

func writeKeyStatus(w io.Writer, st *fvv1.GetKeyStatusResponse, now time.Time) error {
	fmt.Fprintf(w, "root key:   %s", st.GetKms())
	if v := st.GetRootVersion(); v != "" {
		fmt.Fprintf(w, " (version %s", v)
		if n := st.GetRootVersions(); n > 1 {
			fmt.Fprintf(w, "; %d older versions not destroyed yet", n-1)
		}
		fmt.Fprint(w, ")")
	}
	fmt.Fprintln(w)
	if t := st.GetRootRotated(); t != nil {
		fmt.Fprintf(w, "root rotated %s ago\n", age(now, t))
	}
	fmt.Fprintf(w, "subject keys: %s\n\n", group(st.GetSubjectKeys()))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEK VERSION\tSTATE\tAGE\tSUBJECT KEYS\tSERVICE KEYSETS")
	for _, v := range st.GetVersions() {
		state := "active"
		if v.GetPrimary() {
			state = "primary"
		}
		a := "unknown"
		if v.GetCreated() != nil {
			a = age(now, v.GetCreated())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\n", v.GetId(), state, a, group(v.GetSubjectKeys()), v.GetServiceKeysets())
	}
	for _, r := range st.GetRetired() {
		fmt.Fprintf(tw, "%d\tretired %s ago\t-\t-\t-\n", r.GetId(), age(now, r.GetRetired()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := st.GetUnattributed(); n > 0 {
		fmt.Fprintf(w, "\n%d stored keys are wrapped by no KEK version in the keyset and cannot be unwrapped; restore the keystore from a backup\n", n)
	}
	if r := st.GetRewrap(); r != nil {
		fmt.Fprintf(w, "\nan unfinished rewrap to version %d has done %s keys; run \"featurevault keys rewrap\" to finish it\n", r.GetTarget(), group(r.GetDone()))
	} else if t := st.GetLastRewrap(); t != nil {
		fmt.Fprintf(w, "\nlast complete rewrap %s ago\n", age(now, t))
	}
	return nil
}

// age prints how long ago t was, rounded for a person.
func age(now time.Time, t *timestamppb.Timestamp) string {
	d := now.Sub(t.AsTime())
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

func newKeysRotateCmd(c *client) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Add a new KEK version and make it primary",
		Long: `Rotate adds a new version to the KEK and makes it primary: keys wrapped from
now on name it. Keys wrapped by older versions keep working. Finish the
rotation with "featurevault keys rewrap", then "featurevault keys retire".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.RotateKEK, &fvv1.RotateKEKRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "KEK version %d is now primary (previous: %d)\nnext: featurevault keys rewrap, then featurevault keys retire %d\n", res.GetVersion().GetId(), res.GetPrevious(), res.GetPrevious())
			return nil
		},
	}
}

func newKeysRotateRootCmd(c *client) *cobra.Command {
	var destroy bool
	cmd := &cobra.Command{
		Use:   "rotate-root",
		Short: "Re-wrap the KEK under a new version of the root key",
		Long: `Rotate-root re-wraps the KEK under a new version of the root key. With the
local development KMS it adds a version to the root key file; with
--destroy-previous it then destroys the older versions, after which no
earlier copy of the keystore (a backup) can be opened. With an external KMS,
rotate the KMS key there first; this command then re-encrypts the KEK under
its current version, and you disable the older versions in the KMS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.RotateRoot, &fvv1.RotateRootRequest{DestroyPrevious: destroy})
			if err != nil {
				return err
			}
			writeRootRotation(cmd.OutOrStdout(), res.GetRotation())
			return nil
		},
	}
	cmd.Flags().BoolVar(&destroy, "destroy-previous", false, "destroy the older versions of a local root key file afterwards")
	return cmd
}

func writeRootRotation(w io.Writer, r *fvv1.RootRotation) {
	v := r.GetVersion()
	if v == "" {
		v = "the KMS's current version"
	}
	fmt.Fprintf(w, "the KEK is wrapped by root key version %s\n", v)
	switch {
	case r.GetLocal() && r.GetDestroyed() > 0:
		fmt.Fprintf(w, "destroyed %d older root key versions: keystore backups taken before now can no longer be opened\n", r.GetDestroyed())
	case !r.GetLocal():
		fmt.Fprintln(w, "external KMS: disable or destroy the key's older versions in the KMS to close the shred horizon")
	}
}

func newKeysRewrapCmd(c *client) *cobra.Command {
	var (
		mode  string
		batch int32
	)
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Re-wrap every subject key under the primary KEK version (resumable)",
		Long: `Rewrap re-wraps every subject key, the blind-index key and the service
keysets under the primary KEK version, so that older versions can be
retired. Values are not re-encrypted: only the wrapping of each key changes.

It is resumable: each batch is committed with a cursor, so after a crash,
or after you stop this command (Ctrl-C stops the server after the current
batch), running it again continues where it stopped. Progress is shown on a
terminal; the rate is in keys per second.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bar, err := newCountBar(cmd.ErrOrStderr(), mode, "rewrap", "keys", 0)
			if err != nil {
				return err
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			// No --timeout: a rewrap of millions of keys takes minutes.
			stream, err := admin.RewrapKeys(cmd.Context(), connect.NewRequest(&fvv1.RewrapKeysRequest{BatchSize: batch}))
			if err != nil {
				return c.explain(err)
			}
			defer stream.Close()
			var last *fvv1.RewrapKeysResponse
			for stream.Receive() {
				last = stream.Msg()
				bar.set(last.GetDone(), last.GetTotal())
			}
			err = stream.Err()
			if last != nil {
				bar.finish(last.GetDone())
			}
			if errors.Is(err, context.Canceled) || cmd.Context().Err() != nil {
				return errors.New("rewrap interrupted; the server stops after the current batch: run \"featurevault keys rewrap\" again to resume")
			}
			if err != nil {
				return c.explain(err)
			}
			if last == nil || !last.GetFinished() {
				return errors.New("the server ended the rewrap without reporting its end; run \"featurevault keys status\", then rewrap again")
			}
			rate := 0.0
			if s := last.GetElapsedSeconds(); s > 0 {
				rate = float64(last.GetDone()) / s
			}
			resumed := ""
			if last.GetResumed() {
				resumed = " (resumed)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "re-wrapped %s keys under KEK version %d in %.1fs (%s keys/s)%s; %d were erased meanwhile\n",
				group(last.GetDone()), last.GetTarget(), last.GetElapsedSeconds(), short(rate), resumed, last.GetGone())
			return nil
		},
	}
	cmd.Flags().StringVar(&mode, "progress", "auto", "progress bar: auto (on a terminal), always, never")
	cmd.Flags().Int32Var(&batch, "batch", 0, "keys per atomic write (default 512)")
	return cmd
}

func newKeysRetireCmd(c *client) *cobra.Command {
	return &cobra.Command{
		Use:   "retire VERSION",
		Short: "Destroy an old KEK version once no key is wrapped by it",
		Long: `Retire destroys a KEK version (a number from "featurevault keys status").
It refuses while the version is primary or still wraps any key: run
"featurevault keys rewrap" first. It then re-wraps the KEK under a new root
key version and destroys the older local ones, so that no backup of the
keystore can unwrap what the retired version wrapped: every subject erased
before the rotation is then beyond recovery everywhere.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil {
				return fmt.Errorf("VERSION %q is not a KEK version number; \"featurevault keys status\" lists them", args[0])
			}
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.RetireKEK, &fvv1.RetireKEKRequest{Version: uint32(v)})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.GetAlreadyRetired() {
				fmt.Fprintf(out, "KEK version %d was already retired\n", res.GetVersion())
			} else {
				fmt.Fprintf(out, "retired KEK version %d\n", res.GetVersion())
			}
			writeRootRotation(out, res.GetRoot())
			return nil
		},
	}
}

func newKeysRotateSubjectCmd(c *client) *cobra.Command {
	var entity, key string
	cmd := &cobra.Command{
		Use:   "rotate-subject --entity E --key K",
		Short: "Give one subject a fresh key and re-encrypt its values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			admin, err := c.admin()
			if err != nil {
				return err
			}
			res, err := call(cmd.Context(), c, admin.RotateSubjectKey, &fvv1.RotateSubjectKeyRequest{Entity: entity, Key: key})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "subject %s has a new key; re-encrypted %d rows in %s; the old key is destroyed\n", res.GetBlindIndex(), res.GetRows(), formatList(res.GetViews()))
			return nil
		},
	}
	cmd.Flags().StringVar(&entity, "entity", "", "entity of the subject, e.g. customer")
	cmd.Flags().StringVar(&key, "key", "", "the subject's entity key")
	_ = cmd.MarkFlagRequired("entity")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}
