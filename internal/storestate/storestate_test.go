package storestate_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/storestate"
	"github.com/featurevault/featurevault/store"
)

const spec = `
entities:
  - {name: customer, join_key: customer_id, type: string}
feature_views:
  - name: profile
    entity: customer
    fields:
      - {name: age, type: int64}
`

func TestDiffNamesEveryChangeInDataAndKeystore(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.Context(), store.DefaultOptions(t.TempDir()).WithLogger(slog.New(slog.DiscardHandler)).WithSyncWrites(false))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	take := func() storestate.Snapshot {
		t.Helper()
		s, err := storestate.Take(st)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	empty := take()
	if again := take(); len(empty.Diff(again)) != 0 {
		t.Errorf("two snapshots of an unchanged store differ: %v", empty.Diff(again))
	}
	sp, err := store.ParseSpec([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ApplySpec(sp); err != nil {
		t.Fatal(err)
	}
	applied := take()
	diff := empty.Diff(applied)
	if len(diff) == 0 || !slices.ContainsFunc(diff, func(d string) bool { return strings.HasPrefix(d, "data: added m/") }) {
		t.Errorf("Diff after apply = %v, want data: added m/... lines", diff)
	}
	const key = "c-secret-41"
	row := store.Row{EntityKey: key, EventTime: time.Unix(1, 0), Values: map[string]any{"age": int64(41)}}
	if _, err := st.Write(t.Context(), "profile", []store.Row{row}); err != nil {
		t.Fatal(err)
	}
	written := take()
	diff = applied.Diff(written)
	var data, keystore int
	for _, d := range diff {
		if strings.Contains(d, key) {
			t.Errorf("Diff line %q holds the raw entity key", d)
		}
		switch {
		case strings.HasPrefix(d, "data: added "):
			data++
		case strings.HasPrefix(d, "keystore: added s/"):
			keystore++
		default:
			t.Errorf("unexpected Diff line %q", d)
		}
	}
	// The row and the subject record in the data KV, the subject key in the keystore.
	if data != 2 || keystore != 1 {
		t.Errorf("Diff after a first write = %v; want 2 data and 1 keystore additions", diff)
	}
	row.Values["age"] = int64(42)
	if _, err := st.Write(t.Context(), "profile", []store.Row{row}); err != nil {
		t.Fatal(err)
	}
	diff = written.Diff(take())
	if len(diff) != 1 || !strings.HasPrefix(diff[0], "data: changed ") {
		t.Errorf("Diff after overwriting the row = %v, want one data: changed line", diff)
	}
	if got, want := written.Diff(applied), len(applied.Diff(written)); len(got) != want || !strings.Contains(strings.Join(got, "\n"), "removed") {
		t.Errorf("reverse Diff = %v, want %d removed lines", got, want)
	}
}
