package store_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/store"
)

// openConstrained opens a store with the all-types spec and the checked
// view of constrainedSpec.
func openConstrained(t *testing.T) *store.Store {
	t.Helper()
	s := openStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	spec, err := store.ParseSpec([]byte(constrainedSpec))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	if err := s.ApplySpec(spec); err != nil {
		t.Fatalf("ApplySpec: %v", err)
	}
	return s
}

// checkedRow is a row of the checked view that obeys every constraint,
// with the given values added or replaced (a nil value makes it NULL).
func checkedRow(key string, vals map[string]any) store.Row {
	row := map[string]any{"id": "i-1", "flag": true}
	for k, v := range vals {
		row[k] = v
	}
	return store.Row{EntityKey: key, EventTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Values: row}
}

// secretKey is the entity key of refused rows: no error may contain it.
const secretKey = "SECRET-KEY-4417"

func TestWriteEnforcesEveryConstraintAtItsBoundary(t *testing.T) {
	t.Parallel()
	s := openConstrained(t)
	const maxExact = 1 << 53
	tests := []struct {
		name  string
		vals  map[string]any
		field string // "" when the row is accepted
		rule  string // the rule the message must state
	}{
		{"required present", map[string]any{"id": ""}, "", ""},
		{"required NULL", map[string]any{"id": nil}, "id", "is required; give it a non-null value"},
		{"required left out", map[string]any{"flag": nil}, "flag", "is required"},

		{"int min at boundary", map[string]any{"age": int64(0)}, "", ""},
		{"int max at boundary", map[string]any{"age": int64(150)}, "", ""},
		{"int just below min", map[string]any{"age": int64(-1)}, "age", "is below min 0"},
		{"int just above max", map[string]any{"age": int64(151)}, "age", "is above max 150"},
		{"int far past max", map[string]any{"age": int64(math.MaxInt64)}, "age", "is above max 150"},
		{"int as Go int", map[string]any{"age": 151}, "age", "is above max 150"},
		{"int at 2^53", map[string]any{"big": int64(maxExact)}, "", ""},
		{"int just past 2^53", map[string]any{"big": int64(maxExact + 1)}, "big", "is above max 9007199254740992"},
		{"int just below -2^53", map[string]any{"big": int64(-maxExact - 1)}, "big", "is below min -9007199254740992"},

		{"float min at boundary", map[string]any{"income": 0.0}, "", ""},
		{"float max at boundary", map[string]any{"income": 1e6}, "", ""},
		{"float just below min", map[string]any{"income": -math.SmallestNonzeroFloat64}, "income", "is below min 0"},
		{"float just above max", map[string]any{"income": math.Nextafter(1e6, 2e6)}, "income", "is above max 1000000"},
		{"float above bounds, within max", map[string]any{"income": 750000.25}, "", ""},
		{"NaN passes min and max with allow_nan", map[string]any{"score": math.NaN()}, "", ""},
		{"+Inf above max", map[string]any{"score": math.Inf(1)}, "score", "is above max 1"},
		{"-Inf below min", map[string]any{"score": math.Inf(-1)}, "score", "is below min -1"},
		{"NULL passes min and max", map[string]any{"score": nil, "age": nil}, "", ""},

		{"allowed string", map[string]any{"tier": "silver"}, "", ""},
		{"string not allowed", map[string]any{"tier": "platinum"}, "tier", `is not one of the allowed values "gold", "silver", "bronze"`},
		{"allowed string differs in case", map[string]any{"tier": "Gold"}, "tier", "is not one of the allowed values"},
		{"allowed int", map[string]any{"level": int64(3)}, "", ""},
		{"int not allowed", map[string]any{"level": int64(4)}, "level", "is not one of the allowed values 1, 2, 3"},
		{"int below min before allowed", map[string]any{"level": int64(-7)}, "level", "is below min 1"},

		{"ASCII at max_length", map[string]any{"email": "abcdefgh"}, "", ""},
		{"ASCII past max_length", map[string]any{"email": "abcdefghi"}, "email", "is longer than max_length 8 bytes"},
		{"multibyte at max_length in bytes", map[string]any{"email": "éééé"}, "", ""},
		{"multibyte past max_length in bytes", map[string]any{"email": "ééééé"}, "email", "is longer than max_length 8 bytes"},
		{"emoji past max_length in bytes", map[string]any{"email": "ab😀😀"}, "email", "is longer than max_length 8 bytes"},
		{"bytes at max_length", map[string]any{"blob": []byte{1, 2, 3, 4}}, "", ""},
		{"bytes past max_length", map[string]any{"blob": []byte{1, 2, 3, 4, 5}}, "blob", "is longer than max_length 4 bytes"},

		{"first broken field in view order", map[string]any{"blob": []byte("12345"), "age": int64(200)}, "age", "is above max 150"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			good := checkedRow(fmt.Sprintf("good-%d", i), nil)
			row := checkedRow(fmt.Sprintf("%s-%d", secretKey, i), tc.vals)
			_, err := s.Write(t.Context(), "checked", []store.Row{good, row})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Write of a row at the boundary: %v; want it accepted", err)
				}
				return
			}
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Write error = %v, want ErrInvalid", err)
			}
			want := `row 1: view "checked" field "` + tc.field + `" ` + tc.rule
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Write error %q\ndoes not contain %q", err, want)
			}
			if !strings.Contains(err.Error(), "fix the source data") && tc.field != "id" && tc.field != "flag" {
				t.Errorf("Write error %q does not say what to fix", err)
			}
			for _, secret := range append(spelledValues(tc.vals[tc.field]), secretKey) {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Write error %q contains the value or key %q", err, secret)
				}
			}
			res, err := s.GetOnline(t.Context(), "checked", []string{good.EntityKey, row.EntityKey}, []string{"id"})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Rows {
				if r.Statuses[0] != store.NotFound {
					t.Errorf("after a refused write, row %s has status %v, want NOT_FOUND", r.EntityKey, r.Statuses[0])
				}
			}
		})
	}
}

// spelledValues is how a refused value could appear in a message.
func spelledValues(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil // "+Inf" is how the message names no value, but a max
		}
		return []string{fmt.Sprint(x), fmt.Sprintf("%g", x)}
	case []byte:
		return []string{string(x), fmt.Sprint(x)}
	}
	return []string{fmt.Sprint(v)}
}

func TestIngestReportsEveryConstraintRefusalAndWritesNothing(t *testing.T) {
	t.Parallel()
	s := openConstrained(t)
	rows := []store.Row{
		checkedRow("c-0", nil),
		checkedRow(secretKey, map[string]any{"age": int64(151)}),
		checkedRow("c-2", map[string]any{"tier": "gold"}),
		checkedRow("c-3", map[string]any{"id": nil}),
		checkedRow("c-4", map[string]any{"email": "ééééé", "tier": "tin"}),
	}
	res, err := s.Ingest(t.Context(), "checked", rows, store.IngestOptions{FirstRow: 1000})
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	const fix = " declared in the spec; fix the source data, or change the constraint and apply the spec again"
	want := []store.Refusal{
		{Row: 1001, Column: "age", Reason: `view "checked" field "age" is above max 150` + fix},
		{Row: 1003, Column: "id", Reason: `view "checked" field "id" is required; give it a non-null value in every row`},
		{Row: 1004, Column: "tier", Reason: `view "checked" field "tier" is not one of the allowed values "gold", "silver", "bronze"` + fix},
	}
	if !reflect.DeepEqual(res.Refusals, want) || res.RefusedRows != 3 || res.Rows != 2 {
		t.Errorf("Ingest result = %+v\nwant refusals %+v, 3 refused, 2 good rows", res, want)
	}
	got, _, err := scanAll(t, s, "checked", store.ScanOptions{})
	if err != nil || len(got) != 0 {
		t.Errorf("after a refused batch the view holds %v (err %v); want nothing", got, err)
	}
	if st := s.Keyring().Stats(); st.SubjectsCreated != 0 {
		t.Errorf("a refused batch created %d subject keys; want none", st.SubjectsCreated)
	}
	if _, err := s.Ingest(t.Context(), "checked", []store.Row{rows[0], rows[2]}, store.IngestOptions{}); err != nil {
		t.Fatalf("Ingest of the good rows: %v", err)
	}
	if got, _, err := scanAll(t, s, "checked", store.ScanOptions{}); err != nil || len(got) != 2 {
		t.Errorf("after ingesting the good rows the view holds %d rows (err %v); want 2", len(got), err)
	}
}

// Constraints are a compatible change: a new schema version is not needed,
// stored rows that break a tightened constraint stay readable, and the
// next write obeys the new rule at once.
func TestChangedConstraintsApplyToLaterWritesOnly(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Write(ctx, "profile", []store.Row{{EntityKey: "c-1", EventTime: at, Values: map[string]any{"age": int64(200)}}}); err != nil {
		t.Fatalf("write before the constraint: %v", err)
	}
	v, err := s.View("profile")
	if err != nil {
		t.Fatal(err)
	}
	before := v.SchemaVersion
	_, fi, _ := v.Field("age")
	v.Fields[fi].Constraints = store.Constraints{Max: new(150.0)}
	got, res, err := s.ApplyView(v)
	if err != nil {
		t.Fatalf("ApplyView with a tighter constraint: %v", err)
	}
	if got.SchemaVersion != before || res.Created || len(res.Added) != 0 {
		t.Errorf("ApplyView = version %d, %+v; want version %d unchanged, nothing added", got.SchemaVersion, res, before)
	}
	if c := got.Fields[fi].Constraints; c.Max == nil || *c.Max != 150 {
		t.Errorf("stored constraints = %+v, want max 150", c)
	}
	online, err := s.GetOnline(ctx, "profile", []string{"c-1"}, []string{"age"})
	if err != nil || online.Rows[0].Statuses[0] != store.Present || online.Rows[0].Values[0] != int64(200) {
		t.Errorf("stored row after tightening = %+v (err %v); want age 200, PRESENT", online, err)
	}
	_, err = s.Write(ctx, "profile", []store.Row{{EntityKey: "c-2", EventTime: at, Values: map[string]any{"age": int64(200)}}})
	if want := `row 0: view "profile" field "age" is above max 150`; !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Errorf("write after tightening: error %v, want ErrInvalid containing %q", err, want)
	}
	v.Fields[fi].Constraints = store.Constraints{}
	if _, _, err := s.ApplyView(v); err != nil {
		t.Fatalf("ApplyView dropping the constraint: %v", err)
	}
	if _, err := s.Write(ctx, "profile", []store.Row{{EntityKey: "c-2", EventTime: at, Values: map[string]any{"age": int64(200)}}}); err != nil {
		t.Errorf("write after dropping the constraint: %v; want it accepted", err)
	}
}
