package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/featurevault/featurevault/arrowio"
	"github.com/featurevault/featurevault/store"
)

// customersCSV is customer_profile rows in the CSV form ingest documents.
const customersCSV = `customer_id,event_timestamp,email,income,age,embedding,is_active,signup_time,avatar
c-42,2026-09-01T00:00:00Z,a@example.com,52000.5,41,"[0.25, -0.5, 0.125, 1]",true,2021-06-15T09:30:00Z,iVBORw0KGgo=
c-7,2026-08-15T12:00:00Z,b@example.org,0,29,"[1.5, 0, -2, 0.75]",false,2024-01-02T03:04:05.5Z,
c-1001,2026-07-04 08:00:00,,,,,,,
`

// readTable reads a file the way ingest does and returns its rows.
func readTable(t *testing.T, path string, v store.View, e store.Entity) []store.Row {
	t.Helper()
	src, err := arrowio.OpenFile(t.Context(), path, "", v, e, memory.DefaultAllocator, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, err := arrowio.NewDecoder(src.Schema(), v, e)
	if err != nil {
		t.Fatal(err)
	}
	var rows []store.Row
	for src.Next() {
		var refused []store.Refusal
		if rows, _, refused = d.Decode(src.RecordBatch(), 0, rows); len(refused) > 0 {
			t.Fatalf("%s: refused %v", path, refused)
		}
	}
	if err := src.Err(); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]store.Row{}
	for _, r := range rows {
		r.EventTime = r.EventTime.UTC()
		byKey[r.EntityKey] = r
	}
	out := make([]store.Row, 0, len(rows))
	for _, k := range []string{"c-1001", "c-42", "c-7"} {
		out = append(out, byKey[k])
	}
	return out
}

// TestIngestAndExportThroughTheCLI loads a CSV file with "featurevault
// ingest", exports the view as Parquet and Arrow with "featurevault
// export", and checks both files hold exactly what the CSV said; then
// checks that bad files are refused with a report and change nothing.
func TestIngestAndExportThroughTheCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	server, _ := startServer(t, dir)
	cli(t, server, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	work := t.TempDir()
	csvPath := filepath.Join(work, "customers.csv")
	if err := os.WriteFile(csvPath, []byte(customersCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	out := cli(t, server, nil, "ingest", csvPath, "--view", "customer_profile", "--purpose", "ingestion", "--progress", "never")
	if !strings.HasPrefix(out, "ingested 3 rows (13 values) into customer_profile in 1 batches") {
		t.Errorf("ingest output = %q", out)
	}

	spec, err := store.ParseSpec(mustRead(t, filepath.Join(quickstart, "spec.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	v, e := spec.Views[0], spec.Entities[0]
	want := readTable(t, csvPath, v, e)
	for _, name := range []string{"profile.parquet", "profile.arrow"} {
		path := filepath.Join(work, name)
		out := cli(t, server, nil, "export", "--view", "customer_profile", "--out", path, "--purpose", "training", "--progress", "never", "--batch-rows", "2")
		if !strings.HasPrefix(out, "exported 3 rows (7 fields) of customer_profile to "+path) {
			t.Errorf("export output = %q", out)
		}
		if got := readTable(t, path, v, e); !reflect.DeepEqual(got, want) {
			t.Errorf("%s holds\n%v\nwant what the CSV held\n%v", name, got, want)
		}
	}
	// An export ingests back unchanged.
	out = cli(t, server, nil, "ingest", filepath.Join(work, "profile.parquet"), "--view", "customer_profile", "--purpose", "ingestion", "--progress", "never")
	if !strings.HasPrefix(out, "ingested 3 rows (13 values)") {
		t.Errorf("re-ingest of the export: %q", out)
	}

	// Bad cells and bad rows: a report, and nothing written.
	bad := filepath.Join(work, "bad.csv")
	badCSV := "customer_id,event_timestamp,age,income\n" +
		"c-50,2026-01-01T00:00:00Z,forty,1\n" +
		"c-51,2026-01-01T00:00:00Z,51,-1e400\n" +
		",2026-01-01T00:00:00Z,52,1\n" +
		"c-53,2026-01-01T00:00:00Z,53,2\n"
	if err := os.WriteFile(bad, []byte(badCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = cliErr(t, server, nil, "ingest", bad, "--view", "customer_profile", "--purpose", "ingestion", "--progress", "never")
	for _, wantLine := range []string{
		"3 problems in 4 rows checked; nothing was written",
		"row 0 (line 2), column age: not a decimal int64",
		"row 1 (line 3), column income: not a number",
		"row 2 (line 4), column customer_id:",
	} {
		if err == nil || !strings.Contains(err.Error(), wantLine) {
			t.Errorf("ingest of a bad file: error %v; want it to say %q", err, wantLine)
		}
	}
	out = cli(t, server, nil, "export", "--view", "customer_profile", "--out", filepath.Join(work, "after.arrow"), "--purpose", "training", "--progress", "never")
	if !strings.HasPrefix(out, "exported 3 rows") {
		t.Errorf("after a refused ingest: %q; want the 3 rows only", out)
	}

	// A file that does not fit the view is refused before anything is sent.
	misfit := filepath.Join(work, "misfit.csv")
	if err := os.WriteFile(misfit, []byte("customer_id,height\nc-1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = cliErr(t, server, nil, "ingest", misfit, "--view", "customer_profile", "--purpose", "ingestion")
	if err == nil || !strings.Contains(err.Error(), `does not fit view "customer_profile"; nothing was written`) || !strings.Contains(err.Error(), `column "height" is not a field`) {
		t.Errorf("ingest of a misfit file: %v", err)
	}

	// A failed export leaves no file behind.
	missing := filepath.Join(work, "missing.parquet")
	if _, err := cliErr(t, server, nil, "export", "--view", "nope", "--out", missing, "--purpose", "training"); err == nil {
		t.Error("export of an unknown view succeeded")
	}
	entries, _ := os.ReadDir(work)
	for _, en := range entries {
		if strings.Contains(en.Name(), "missing") || strings.Contains(en.Name(), ".partial-") {
			t.Errorf("a failed export left %s behind", en.Name())
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
