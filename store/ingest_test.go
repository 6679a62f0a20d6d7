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

func TestIngestReportsEveryRefusedRowAndWritesNothing(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []store.Row{
		{EntityKey: "c-1", EventTime: at, Values: map[string]any{"age": int64(1)}},
		{EntityKey: "", EventTime: at, Values: map[string]any{"age": int64(2)}},
		{EntityKey: "c-3", EventTime: at, Values: map[string]any{"income": math.NaN()}},
		{EntityKey: "c-4", EventTime: at, Values: map[string]any{"height": 1.0}},
		{EntityKey: "c-5", EventTime: at, Values: map[string]any{"age": 5.5}},
	}
	res, err := s.Ingest(t.Context(), "profile", rows, store.IngestOptions{FirstRow: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Refusal{
		{Row: 101, Column: "customer_id", Reason: `entity "customer" key is empty; give the customer_id of each row`},
		{Row: 102, Column: "income", Reason: `field "income" refuses NaN and infinities; send null for a missing value, or declare allow_nan: true`},
		{Row: 103, Column: "height", Reason: `view "profile" has no field "height"; apply a spec that adds it`},
		{Row: 104, Column: "age", Reason: `field "age" is int64, got a float value`},
	}
	if !reflect.DeepEqual(res.Refusals, want) || res.RefusedRows != 4 || res.Rows != 1 {
		t.Errorf("result = %+v\nwant refusals %+v, 4 refused, 1 good row", res, want)
	}
	got, _, err := scanAll(t, s, "profile", store.ScanOptions{})
	if err != nil || len(got) != 0 {
		t.Errorf("after a refused batch the view holds %v (err %v); want nothing", got, err)
	}
	if st := s.Keyring().Stats(); st.SubjectsCreated != 0 {
		t.Errorf("a refused batch created %d subject keys; want none", st.SubjectsCreated)
	}
}

func TestIngestCapsTheDetailedReport(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	rows := make([]store.Row, 10)
	for i := range rows {
		rows[i] = store.Row{EntityKey: fmt.Sprint("c-", i), Values: map[string]any{"age": "x"}}
	}
	res, err := s.Ingest(t.Context(), "profile", rows, store.IngestOptions{MaxRefusals: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refusals) != 3 || res.RefusedRows != 10 {
		t.Errorf("%d refusals reported, %d counted; want 3 and 10", len(res.Refusals), res.RefusedRows)
	}
}

func TestIngestValidateOnlyWritesNothing(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	rows := []store.Row{{EntityKey: "c-1", Values: map[string]any{"age": int64(1), "income": 2.0, "email": nil}}}
	res, err := s.Ingest(t.Context(), "profile", rows, store.IngestOptions{ValidateOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1 || res.Values != 2 || res.RefusedRows != 0 {
		t.Errorf("validate-only result %+v; want 1 row, 2 values, nothing refused", res)
	}
	got, _, _ := scanAll(t, s, "profile", store.ScanOptions{})
	if len(got) != 0 || s.Keyring().Stats().SubjectsCreated != 0 {
		t.Errorf("validate-only wrote %d rows and %d keys; want none", len(got), s.Keyring().Stats().SubjectsCreated)
	}
	res, err = s.Ingest(t.Context(), "profile", rows, store.IngestOptions{})
	if err != nil || res.Rows != 1 || res.Values != 2 {
		t.Fatalf("ingest = %+v, %v; want 1 row and 2 values", res, err)
	}
	got, _, _ = scanAll(t, s, "profile", store.ScanOptions{Features: []string{"age"}})
	if len(got) != 1 || got[0].Key != "c-1" || got[0].Values["age"] != int64(1) {
		t.Errorf("after ingest the view holds %v; want c-1 with age 1", got)
	}
}

func TestIngestRefusesABatchTooLargeToCommitAtomically(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	defer s.Close()
	big := strings.Repeat("x", 200<<10)
	rows := make([]store.Row, 100) // 20 MB of strings: more than one commit holds
	for i := range rows {
		rows[i] = store.Row{EntityKey: fmt.Sprint("c-", i), Values: map[string]any{"email": big}}
	}
	_, err := s.Ingest(t.Context(), "profile", rows, store.IngestOptions{})
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "send fewer rows per batch") {
		t.Fatalf("error = %v; want ErrInvalid asking for fewer rows per batch", err)
	}
	got, _, _ := scanAll(t, s, "profile", store.ScanOptions{Features: []string{"age"}})
	if len(got) != 0 {
		t.Errorf("a refused batch left %d rows", len(got))
	}
}
