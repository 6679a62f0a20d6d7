package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEraseEndToEnd drives a real server through the CLI as a privacy
// officer would: export a subject's data, erase it with suppression, and
// check that reads no longer include it, that re-ingest is refused, that
// the audit log holds a receipt naming it by blind index only, and that a
// batch erasure from a file reports every subject.
func TestEraseEndToEnd(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t, t.TempDir())
	cli(t, server, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, server, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))

	var export struct {
		Key        string                                       `json:"key"`
		BlindIndex string                                       `json:"blind_index"`
		Views      map[string][]struct{ Values map[string]any } `json:"views"`
	}
	if err := json.Unmarshal([]byte(cli(t, server, nil, "subject", "export", "--entity", "customer", "--key", "c-42", "--all")), &export); err != nil {
		t.Fatalf("subject export is not JSON: %v", err)
	}
	if rows := export.Views["customer_profile"]; export.Key != "c-42" || len(rows) != 2 || rows[0].Values["email"] != "a@example.com" || rows[1].Values["email"] != "old-address@example.com" {
		t.Fatalf("subject export --all = %+v; want both rows of c-42, newest first", export)
	}

	out := cli(t, server, nil, "erase", "--entity", "customer", "--key", "c-42", "--suppress")
	want := fmt.Sprintf("--key 1: erased subject %s: key destroyed; record deleted; 2 rows deleted in customer_profile; later writes refused (audit record ", export.BlindIndex)
	if !strings.HasPrefix(out, want) {
		t.Errorf("erase printed %q; want it to start %q", out, want)
	}
	get := cli(t, server, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7", "--features", "age", "-o", "json")
	if !strings.Contains(get, `{"entity":"c-42","event_time":null,"features":{"age":{"value":null,"status":"NOT_FOUND"}}}`) || !strings.Contains(get, `"c-7"`) || !strings.Contains(get, `"status":"PRESENT"`) {
		t.Errorf("get after erasing c-42:\n%s\nwant c-42 NOT_FOUND and c-7 PRESENT", get)
	}
	_, err := cliErr(t, server, strings.NewReader(`{"entity": "c-42", "values": {"age": 43}}`+"\n"), "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "failed_precondition") || !strings.Contains(err.Error(), "suppression") || strings.Contains(err.Error(), "c-42") {
		t.Errorf("put of the suppressed subject: err %v; want FailedPrecondition about suppression that does not name the key", err)
	}
	if _, err := cliErr(t, server, nil, "subject", "export", "--entity", "customer", "--key", "c-42"); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("export of the erased subject: err %v; want not_found", err)
	}

	audit := cli(t, server, nil, "audit", "tail", "-n", "50", "-o", "json")
	if !strings.Contains(audit, export.BlindIndex) || !strings.Contains(audit, "subject key destroyed; subject record deleted; 2 rows deleted in 1 views; later writes suppressed") {
		t.Errorf("the audit log holds no erasure receipt for %s:\n%s", export.BlindIndex, audit)
	}
	for _, secret := range []string{"c-42", "a@example.com"} {
		if strings.Contains(audit, secret) {
			t.Errorf("the audit log contains %q", secret)
		}
	}

	var keys strings.Builder
	keys.WriteString("# customers who asked to be forgotten\n")
	for i := range 1200 {
		fmt.Fprintf(&keys, "c-%d\n\n", 1000+i)
	}
	keys.WriteString("c-7\n")
	file := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(file, []byte(keys.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	batch := cli(t, server, nil, "erase", "--entity", "customer", "--file", file, "--progress", "never")
	lines := strings.Split(strings.TrimSpace(batch), "\n")
	if len(lines) != 1202 || !strings.HasPrefix(lines[1200], "line 2402: erased subject ") || lines[1201] != "erased 1,201 subjects: 2 keys destroyed, 2 rows deleted" {
		t.Errorf("erase --file printed %d lines, ending %q; want 1,201 receipts by line number and a summary", len(lines), lines[max(0, len(lines)-2):])
	}
	if !regexp.MustCompile(`line 2: erased subject [0-9a-f]{32}: nothing was stored`).MatchString(batch) {
		t.Errorf("erase --file does not report c-1000 (line 2) as erased with nothing stored")
	}
}

// TestKeyLifecycleEndToEnd rotates, re-wraps and retires the KEK through
// the CLI and checks status, refusals and that data stays readable.
func TestKeyLifecycleEndToEnd(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t, t.TempDir())
	cli(t, server, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, server, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))

	type status struct {
		Versions []struct {
			Version     uint32 `json:"version"`
			Primary     bool   `json:"primary"`
			SubjectKeys int64  `json:"subject_keys"`
		} `json:"versions"`
		Retired     []map[string]any `json:"retired"`
		SubjectKeys int64            `json:"subject_keys"`
	}
	keyStatus := func() status {
		var st status
		if err := json.Unmarshal([]byte(cli(t, server, nil, "keys", "status", "-o", "json")), &st); err != nil {
			t.Fatalf("keys status -o json: %v", err)
		}
		return st
	}
	st := keyStatus()
	if len(st.Versions) != 1 || st.SubjectKeys != 3 || st.Versions[0].SubjectKeys != 3 {
		t.Fatalf("keys status = %+v; want one version wrapping the 3 subject keys", st)
	}
	old := st.Versions[0].Version
	rotated := cli(t, server, nil, "keys", "rotate")
	if !strings.Contains(rotated, fmt.Sprintf("(previous: %d)", old)) {
		t.Errorf("keys rotate printed %q", rotated)
	}
	_, err := cliErr(t, server, nil, "keys", "retire", fmt.Sprint(old))
	if err == nil || !strings.Contains(err.Error(), "still wraps 3 subject keys") || !strings.Contains(err.Error(), "failed_precondition") {
		t.Errorf("retire before rewrap: err %v; want failed_precondition saying 3 subject keys remain", err)
	}
	rewrap := cli(t, server, nil, "keys", "rewrap", "--progress", "never")
	if !regexp.MustCompile(`^re-wrapped [0-9,]+ keys under KEK version \d+ in [0-9.]+s \([0-9.k]+ keys/s\)`).MatchString(rewrap) {
		t.Errorf("keys rewrap printed %q", rewrap)
	}
	retired := cli(t, server, nil, "keys", "retire", fmt.Sprint(old))
	if !strings.Contains(retired, fmt.Sprintf("retired KEK version %d", old)) || !strings.Contains(retired, "destroyed 1 older root key versions") {
		t.Errorf("keys retire printed %q", retired)
	}
	st = keyStatus()
	if len(st.Versions) != 1 || st.Versions[0].Version == old || st.Versions[0].SubjectKeys != 3 || len(st.Retired) != 1 {
		t.Errorf("keys status after retire = %+v; want the new version wrapping 3 subjects, one retired", st)
	}
	table := cli(t, server, nil, "keys", "status")
	if !strings.Contains(table, "primary") || !regexp.MustCompile(fmt.Sprintf(`(?m)^%d +retired `, old)).MatchString(table) {
		t.Errorf("keys status table:\n%s", table)
	}
	if got := cli(t, server, nil, "keys", "rotate-subject", "--entity", "customer", "--key", "c-7"); !strings.Contains(got, "re-encrypted 1 rows in customer_profile") {
		t.Errorf("keys rotate-subject printed %q", got)
	}
	get := cli(t, server, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7", "--features", "email", "-o", "json")
	if !strings.Contains(get, `"value":"a@example.com","status":"PRESENT"`) || !strings.Contains(get, `"value":"b@example.org","status":"PRESENT"`) {
		t.Errorf("get after the key lifecycle:\n%s", get)
	}
	restricted := cli(t, server, nil, "subject", "restrict", "--entity", "customer", "--key", "c-7", "--purpose", "training")
	if !strings.Contains(restricted, "is restricted for purpose training") {
		t.Errorf("subject restrict printed %q", restricted)
	}
}
