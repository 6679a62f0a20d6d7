package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const constraintsSpec = `entities:
  - name: customer
    join_key: customer_id
    type: string
feature_views:
  - name: checked
    entity: customer
    fields:
      - {name: age, type: int64, bounds: [18, 100], required: true, min: 0, max: 150}
      - {name: tier, type: string, allowed: [gold, silver], max_length: 8}
`

// The CLI carries constraints from a spec file to the server and back,
// and put and ingest report a row that breaks one by line or row, field
// and rule, without the value or the key, writing nothing.
func TestConstraintsThroughTheCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	server, _ := startServer(t, filepath.Join(dir, "server"))
	specFile := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(specFile, []byte(constraintsSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, server, nil, "apply", "-f", specFile)
	got := cli(t, server, nil, "views", "list", "-o", "yaml")
	for _, want := range []string{
		"{name: age, type: int64, bounds: [18, 100], required: true, min: 0, max: 150}",
		"{name: tier, type: string, allowed: [gold, silver], max_length: 8}",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("views list -o yaml:\n%s\ndoes not contain %q", got, want)
		}
	}

	rows := `{"entity": "c-1", "values": {"age": 30, "tier": "gold"}}
{"entity": "secret-key-e2e", "values": {"age": 30, "tier": "platinum"}}
`
	_, err := cliErr(t, server, strings.NewReader(rows), "put", "--purpose", "ingestion", "--view", "checked", "-f", "-")
	want := `row 1: view "checked" field "tier" is not one of the allowed values "gold", "silver"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("put error = %v, want one containing %q", err, want)
	}
	for _, secret := range []string{"platinum", "secret-key-e2e"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("put error %q contains %q", err, secret)
		}
	}

	csvFile := filepath.Join(dir, "rows.csv")
	csv := "customer_id,event_timestamp,age,tier\nc-2,2026-11-01T00:00:00Z,30,gold\nc-3,2026-11-01T00:00:00Z,151,silver\nc-4,2026-11-01T00:00:00Z,,gold\n"
	if err := os.WriteFile(csvFile, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = cliErr(t, server, nil, "ingest", csvFile, "--view", "checked", "--purpose", "ingestion")
	if err == nil {
		t.Fatal("ingest of a file with rows that break constraints succeeded; want an error")
	}
	for _, want := range []string{
		"nothing was written",
		`row 1 (line 3), column age: view "checked" field "age" is above max 150`,
		`row 2 (line 4), column age: view "checked" field "age" is required`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ingest error %q\ndoes not contain %q", err, want)
		}
	}
	// As a whole number: the temporary directory in the message may hold
	// the digits 151 inside a longer one.
	if regexp.MustCompile(`\b151\b`).MatchString(err.Error()) {
		t.Errorf("ingest error %q contains the value 151", err)
	}

	got = cli(t, server, nil, "get", "--purpose", "training", "--view", "checked", "--entity", "c-1", "--entity", "c-2", "--features", "age", "-o", "json")
	if n := strings.Count(got, `"status":"NOT_FOUND"`); n != 2 {
		t.Errorf("after the refused put and ingest, get =\n%s\nwant both entities NOT_FOUND", got)
	}
}
