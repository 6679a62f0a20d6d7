package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/audit"
)

// The access-control tests run the real server, as the other end-to-end
// tests do, and drive it as an admin would: create principals, grant and
// revoke rules, then read as those principals with their own tokens.

// quickstartServer starts a server with the quickstart spec applied and
// its customer and instrument rows written.
func quickstartServer(t *testing.T) testServer {
	t.Helper()
	srv, _ := startServer(t, t.TempDir())
	cli(t, srv, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, srv, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	cli(t, srv, nil, "put", "--purpose", "ingestion", "--view", "instrument_quotes", "-f", filepath.Join(quickstart, "rows-instruments.jsonl"))
	return srv
}

// createPrincipal runs "principal create" and returns the token it printed.
func createPrincipal(t *testing.T, srv testServer, args ...string) string {
	t.Helper()
	out := cli(t, srv, nil, append([]string{"principal", "create"}, args...)...)
	var token string
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, "token: "); ok {
			token = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(token, "fvt_") {
		t.Fatalf("principal create printed %q, want a \"token: fvt_...\" line", out)
	}
	if !strings.Contains(out, "will not be shown again") {
		t.Errorf("principal create printed %q, want a line saying the token will not be shown again", out)
	}
	return token
}

// statuses reads "get -o json" output as entity -> field -> status,
// checking that no value is shown unless its status is PRESENT.
func statuses(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	got := map[string]map[string]string{}
	for line := range strings.Lines(out) {
		var row onlineJSON
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("get line %q: %v", line, err)
		}
		got[row.Entity] = map[string]string{}
		for name, f := range row.Features {
			got[row.Entity][name] = f.Status
			if f.Status != "PRESENT" && f.Value != nil {
				t.Errorf("entity %s field %s is %s but shows the value %v", row.Entity, name, f.Status, f.Value)
			}
		}
	}
	return got
}

// allStatus maps every field to one status.
func allStatus(status string, fields ...string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		m[f] = status
	}
	return m
}

var customerFields = []string{"email", "income", "age", "embedding", "is_active", "signup_time", "avatar"}

// readAudit decodes "audit tail -o json" (or export) output.
func readAudit(t *testing.T, out string) []audit.Record {
	t.Helper()
	var recs []audit.Record
	for line := range strings.Lines(out) {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestPrincipalReadsOnlyTheColumnsItsRulesAllow(t *testing.T) {
	t.Parallel()
	srv := quickstartServer(t)
	token := createPrincipal(t, srv, "churn_bot", "--role", "analyst", "--attr", "purpose=analytics|training")
	for _, grant := range [][]string{
		{"analyst", "--action", "read", "--on", "customer_profile.*", "--purpose", "analytics"},
		{"analyst", "--action", "read", "--on", "tag:pii", "--deny"},
		{"analyst", "--action", "read", "--on", "instrument_quotes.bid"},
	} {
		if out := cli(t, srv, nil, append([]string{"policy", "grant"}, grant...)...); !strings.HasPrefix(out, "granted: ") {
			t.Errorf("policy grant %v printed %q, want \"granted: ...\"", grant, out)
		}
	}

	analytics := allStatus("PRESENT", customerFields...)
	analytics["email"], analytics["income"] = "DENIED", "DENIED"
	t.Run("reads", func(t *testing.T) {
		tests := []struct {
			name    string
			args    []string
			want    map[string]map[string]string
			wantErr string
		}{
			{"view rule for its purpose, pii denied", []string{"--purpose", "analytics", "--view", "customer_profile", "--entity", "c-42"},
				map[string]map[string]string{"c-42": analytics}, ""},
			{"no rule for another claimed purpose", []string{"--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7"},
				map[string]map[string]string{"c-42": allStatus("DENIED", customerFields...), "c-7": allStatus("DENIED", customerFields...)}, ""},
			{"one column of another view, any purpose", []string{"--purpose", "training", "--view", "instrument_quotes", "--entity", "1"},
				map[string]map[string]string{"1": {"bid": "PRESENT", "ask": "DENIED", "volume": "DENIED", "venue": "DENIED"}}, ""},
			{"strict read of allowed columns", []string{"--purpose", "analytics", "--strict", "--view", "customer_profile", "--entity", "c-42", "--features", "age,is_active"},
				map[string]map[string]string{"c-42": {"age": "PRESENT", "is_active": "PRESENT"}}, ""},
			{"strict read with a denied column fails whole", []string{"--purpose", "analytics", "--strict", "--view", "customer_profile", "--entity", "c-42", "--features", "age,email"},
				nil, `read denied on view "customer_profile" columns email`},
			{"purpose not in its attributes", []string{"--purpose", "marketing", "--view", "customer_profile", "--entity", "c-42"},
				nil, `may not claim purpose "marketing"; it may claim analytics, training (permission_denied)`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				out, err := cliErr(t, srv, nil, append([]string{"--token", token, "get", "-o", "json"}, tt.args...)...)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("get %v: error %v, want one containing %q; output %q", tt.args, err, tt.wantErr, out)
					}
					return
				}
				if err != nil {
					t.Fatalf("get %v: %v", tt.args, err)
				}
				if got := statuses(t, out); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("get %v statuses = %v, want %v", tt.args, got, tt.want)
				}
			})
		}
	})

	t.Run("the principal is not an admin", func(t *testing.T) {
		t.Parallel()
		_, err := cliErr(t, srv, nil, "--token", token, "principal", "list")
		if err == nil || !strings.Contains(err.Error(), "(permission_denied)") {
			t.Errorf("principal list as churn_bot: error %v, want permission_denied", err)
		}
	})

	t.Run("values it may read are the stored ones", func(t *testing.T) {
		t.Parallel()
		out := cli(t, srv, nil, "--token", token, "--purpose", "analytics", "get", "--view", "customer_profile", "--entity", "c-42", "--features", "age,email", "-o", "json")
		want := `{"entity":"c-42","event_time":"2026-09-01T00:00:00Z","features":{"age":{"value":41,"status":"PRESENT"},"email":{"value":null,"status":"DENIED"}}}` + "\n"
		if !reflect.DeepEqual(decodeLines(t, out), decodeLines(t, want)) {
			t.Errorf("get =\n%s\nwant\n%s", out, want)
		}
	})

	t.Run("explain names the deciding rule", func(t *testing.T) {
		t.Parallel()
		const (
			viewRule = "p, analyst, customer_profile.*, read, analytics, *, allow"
			piiRule  = "p, analyst, tag:pii, read, *, *, deny"
			none     = "default deny"
		)
		tags := map[string][]string{"email": {"pii"}, "income": {"pii", "sensitive"}}
		want := explanationJSON{Principal: "churn_bot", View: "customer_profile", Purpose: "analytics"}
		for _, f := range customerFields {
			read := verdictJSON{true, viewRule}
			if tags[f] != nil {
				read = verdictJSON{false, piiRule}
			}
			fieldTags := tags[f]
			if fieldTags == nil {
				fieldTags = []string{}
			}
			want.Fields = append(want.Fields, fieldExplanationJSON{Field: f, Tags: fieldTags, Actions: map[string]verdictJSON{
				"read": read, "aggregate": {false, none}, "write": {false, none}, "admin": {false, none},
			}})
		}
		var got explanationJSON
		out := cli(t, srv, nil, "policy", "explain", "--principal", "churn_bot", "--view", "customer_profile", "--purpose", "analytics", "-o", "json")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("explain -o json printed %q: %v", out, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("explain -o json =\n%s\nwant %+v", out, want)
		}

		table := cli(t, srv, nil, "policy", "explain", "--principal", "churn_bot", "--view", "customer_profile", "--purpose", "analytics")
		lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
		if len(lines) != 1+len(customerFields) {
			t.Fatalf("explain table has %d lines, want a header and one per field:\n%s", len(lines), table)
		}
		if h := strings.Fields(lines[0]); !slices.Equal(h, []string{"FIELD", "TAGS", "READ", "AGGREGATE", "WRITE", "ADMIN"}) {
			t.Errorf("explain table header = %q", lines[0])
		}
		rows := map[string]string{}
		for _, l := range lines[1:] {
			rows[strings.Fields(l)[0]] = l
		}
		for field, want := range map[string]string{
			"email":  "deny (" + piiRule + ")",
			"income": "deny (" + piiRule + ")",
			"age":    "allow (" + viewRule + ")",
		} {
			if !strings.Contains(rows[field], want) || !strings.Contains(rows[field], "deny (default deny)") {
				t.Errorf("explain table row %q = %q, want it to show %q and the default deny of the other actions", field, rows[field], want)
			}
		}

		// For a purpose with no rule, the view rule does not apply.
		out = cli(t, srv, nil, "policy", "explain", "--principal", "churn_bot", "--view", "customer_profile", "--purpose", "training", "-o", "json")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		for _, f := range got.Fields {
			if v := f.Actions["read"]; v.Allowed {
				t.Errorf("explain for training: %s read = %+v, want denied", f.Field, v)
			}
		}
	})

	t.Run("principal list shows attributes, never a token", func(t *testing.T) {
		t.Parallel()
		out := cli(t, srv, nil, "principal", "list", "-o", "json")
		if strings.Contains(out, token) || strings.Contains(out, srv.adminToken(t)) {
			t.Fatalf("principal list shows a token: %s", out)
		}
		var got struct{ Principals []principalJSON }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("principal list -o json printed %q: %v", out, err)
		}
		var bot *principalJSON
		for i, p := range got.Principals {
			if p.Name == "churn_bot" {
				bot = &got.Principals[i]
			}
		}
		if bot == nil {
			t.Fatalf("principal list = %s, want churn_bot in it", out)
		}
		purposes := slices.Sorted(slices.Values(bot.Attributes["purpose"]))
		if !slices.Equal(bot.Roles, []string{"analyst"}) || !slices.Equal(purposes, []string{"analytics", "training"}) || bot.Revoked {
			t.Errorf("churn_bot = %+v, want role analyst, purposes analytics and training, active", bot)
		}
	})

	// The reads above are all in the audit log, with the columns the
	// policy allowed and denied and the purpose claimed.
	recs := readAudit(t, cli(t, srv, nil, "audit", "tail", "-n", "200", "-o", "json"))
	type read struct {
		purpose, view, outcome string
		allowed, denied        []string
	}
	var got []read
	for _, r := range recs {
		if r.Principal == "churn_bot" && r.Action == "read" {
			got = append(got, read{r.Purpose, r.View, r.Outcome, r.Allowed, r.Denied})
		}
	}
	for _, want := range []read{
		{"analytics", "customer_profile", "ok", []string{"age", "embedding", "is_active", "signup_time", "avatar"}, []string{"email", "income"}},
		{"training", "instrument_quotes", "ok", []string{"bid"}, []string{"ask", "volume", "venue"}},
		{"analytics", "customer_profile", "permission_denied", []string{"age"}, []string{"email"}},
	} {
		if !slices.ContainsFunc(got, func(g read) bool { return reflect.DeepEqual(g, want) }) {
			t.Errorf("audit reads of churn_bot = %+v, want one %+v", got, want)
		}
	}
	if !slices.ContainsFunc(got, func(g read) bool { return g.purpose == "marketing" && g.outcome == "permission_denied" }) {
		t.Errorf("audit reads of churn_bot = %+v, want the refused marketing read", got)
	}
	table := cli(t, srv, nil, "audit", "tail", "-n", "50")
	if !strings.Contains(table, "churn_bot") || !strings.Contains(table, "customer_profile") || !strings.HasPrefix(table, "SEQ ") {
		t.Errorf("audit tail =\n%s\nwant a table with churn_bot's reads", table)
	}
}

func TestPolicyAndRoleChangesApplyToTheNextRequest(t *testing.T) {
	t.Parallel()
	srv := quickstartServer(t)
	token := createPrincipal(t, srv, "churn_bot", "--role", "analyst", "--attr", "purpose=analytics")
	age := []string{"--on", "customer_profile.age", "--action", "read"}
	steps := []struct {
		name   string
		change []string // an admin command; nil for none
		want   string   // status of age read by churn_bot
	}{
		{"denied by default", nil, "DENIED"},
		{"granted", append([]string{"policy", "grant", "analyst"}, age...), "PRESENT"},
		{"deny beats allow", append([]string{"policy", "grant", "analyst", "--deny"}, age...), "DENIED"},
		{"deny revoked", append([]string{"policy", "revoke", "analyst", "--deny"}, age...), "PRESENT"},
		{"role unassigned", []string{"role", "unassign", "churn_bot", "analyst"}, "DENIED"},
		{"role that inherits it", []string{"role", "assign", "senior", "analyst"}, "DENIED"},
		{"inheriting role assigned", []string{"role", "assign", "churn_bot", "senior"}, "PRESENT"},
		{"grant revoked", append([]string{"policy", "revoke", "analyst"}, age...), "DENIED"},
		{"purpose-limited grant", append([]string{"policy", "grant", "senior", "--purpose", "analytics"}, age...), "PRESENT"},
		{"grant for another purpose only", []string{"policy", "revoke", "senior", "--purpose", "analytics", "--on", "customer_profile.age", "--action", "read"}, "DENIED"},
	}
	for _, st := range steps {
		if st.change != nil {
			cli(t, srv, nil, st.change...)
		}
		out := cli(t, srv, nil, "--token", token, "--purpose", "analytics", "get", "--view", "customer_profile", "--entity", "c-42", "--features", "age", "-o", "json")
		if got := statuses(t, out)["c-42"]["age"]; got != st.want {
			t.Errorf("after %q (%v): age = %s, want %s", st.name, st.change, got, st.want)
		}
	}
	var listed policiesJSON
	if err := json.Unmarshal([]byte(cli(t, srv, nil, "policy", "list", "-o", "json")), &listed); err != nil {
		t.Fatal(err)
	}
	for _, want := range []assignmentJSON{{"churn_bot", "senior"}, {"senior", "analyst"}} {
		if !slices.Contains(listed.Assignments, want) {
			t.Errorf("policy list assignments = %+v, want %+v", listed.Assignments, want)
		}
	}
	if slices.ContainsFunc(listed.Rules, func(r ruleJSON) bool { return r.Role != "admin" }) {
		t.Errorf("policy list rules = %+v, want only the bootstrap admin's after every revoke", listed.Rules)
	}
}

func TestRevokedPrincipalsTokensStopWorking(t *testing.T) {
	t.Parallel()
	srv := quickstartServer(t)
	opaque := createPrincipal(t, srv, "batch_job", "--role", "trainer", "--attr", "purpose=training")
	cli(t, srv, nil, "policy", "grant", "trainer", "--action", "read", "--on", "customer_profile.age")
	var issued struct {
		Principal string `json:"principal"`
		Token     string `json:"token"`
	}
	if err := json.Unmarshal([]byte(cli(t, srv, nil, "token", "issue", "batch_job", "--ttl", "10m", "-o", "json")), &issued); err != nil {
		t.Fatal(err)
	}
	if issued.Principal != "batch_job" || strings.Count(issued.Token, ".") != 2 {
		t.Fatalf("token issue = %+v, want a JWT for batch_job", issued)
	}
	tokens := []struct{ name, token string }{{"opaque token", opaque}, {"JWT", issued.Token}}
	read := func(token string) (string, error) {
		return cliErr(t, srv, nil, "--token", token, "--purpose", "training", "get", "--view", "customer_profile", "--entity", "c-42", "--features", "age", "-o", "json")
	}
	for _, tk := range tokens {
		out, err := read(tk.token)
		if err != nil {
			t.Fatalf("%s before revoke: %v", tk.name, err)
		}
		if got := statuses(t, out)["c-42"]["age"]; got != "PRESENT" {
			t.Errorf("%s before revoke: age = %s, want PRESENT", tk.name, got)
		}
	}
	if out := cli(t, srv, nil, "principal", "revoke", "batch_job"); !strings.Contains(out, "revoked principal batch_job") {
		t.Errorf("principal revoke printed %q", out)
	}
	for _, tk := range tokens {
		_, err := read(tk.token)
		if err == nil || !strings.Contains(err.Error(), "the server refused the token from --token") || !strings.Contains(err.Error(), "(unauthenticated)") {
			t.Errorf("%s after revoke: error %v, want an unauthenticated error naming --token", tk.name, err)
		} else if strings.Contains(err.Error(), tk.token) {
			t.Errorf("%s after revoke: the error %q shows the token", tk.name, err)
		}
	}
	if list := cli(t, srv, nil, "principal", "list"); !regexpLine(list, "batch_job", "revoked") {
		t.Errorf("principal list =\n%s\nwant batch_job revoked", list)
	}
}

// regexpLine reports whether some line of text holds every word.
func regexpLine(text string, words ...string) bool {
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		ok := true
		for _, w := range words {
			ok = ok && slices.Contains(f, w)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestTokenComesFromFlagThenEnvironmentThenDataDirectory(t *testing.T) {
	t.Parallel()
	srv := quickstartServer(t)
	admin := srv.adminToken(t)
	bot := createPrincipal(t, srv, "reader", "--role", "reader")
	empty := t.TempDir()
	tests := []struct {
		name     string
		envToken string
		args     []string
		want     string // "" for success, else part of the error
	}{
		{"data directory's admin.token", "", []string{"--data", srv.dir}, ""},
		{"environment beats the data directory", bot, []string{"--data", srv.dir}, "(permission_denied)"},
		{"flag beats the environment", bot, []string{"--data", empty, "--token", admin}, ""},
		{"flag beats the data directory", "", []string{"--data", srv.dir, "--token", bot}, "(permission_denied)"},
		{"environment alone", admin, []string{"--data", empty}, ""},
		{"nothing", "", []string{"--data", empty}, "no token: pass --token or set FEATUREVAULT_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := func(k string) string {
				switch k {
				case envServer:
					return srv.url
				case envToken:
					return tt.envToken
				}
				return ""
			}
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append(tt.args, "principal", "list", "-o", "json"), env, strings.NewReader(""), &stdout, &stderr)
			if tt.want == "" {
				if code != 0 || !strings.Contains(stdout.String(), `"name": "reader"`) {
					t.Errorf("exit %d, stdout %q, stderr %q; want the principal list", code, stdout.String(), stderr.String())
				}
				return
			}
			if code != 1 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), bot) || strings.Contains(stderr.String(), admin) {
				t.Errorf("stderr %q shows a token", stderr.String())
			}
		})
	}
}

func TestAuditLogVerifiesAndExportsEveryRecord(t *testing.T) {
	t.Parallel()
	srv := quickstartServer(t)
	cli(t, srv, nil, "--purpose", "training", "get", "--view", "customer_profile", "--entity", "c-42")
	cli(t, srv, nil, "policy", "grant", "analyst", "--action", "aggregate", "--on", "tag:sensitive")

	out := cli(t, srv, nil, "audit", "verify")
	head := ""
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, "head checkpoint: "); ok {
			head = strings.TrimSpace(v)
		}
	}
	if !strings.HasPrefix(out, "audit log verified: ") || head == "" {
		t.Fatalf("audit verify printed %q, want it verified with a head checkpoint", out)
	}
	if out := cli(t, srv, nil, "audit", "verify", "--checkpoint", head); !strings.Contains(out, "1 checkpoints matched") {
		t.Errorf("audit verify --checkpoint head printed %q, want the checkpoint matched", out)
	}

	// A checkpoint the log does not match (as after a rollback) is a
	// problem: verify says where and exits non-zero.
	seq, hash, _ := strings.Cut(head, ":")
	forged := seq + ":" + strings.Repeat("0", len(hash))
	var stdout, stderr bytes.Buffer
	env := func(k string) string {
		if k == envServer {
			return srv.url
		}
		return ""
	}
	if code := run(t.Context(), []string{"--data", srv.dir, "audit", "verify", "--checkpoint", forged, "-o", "json"}, env, strings.NewReader(""), &stdout, &stderr); code != 1 {
		t.Errorf("audit verify with a forged checkpoint exited %d, want 1; stdout %q", code, stdout.String())
	}
	var report struct {
		OK       bool   `json:"ok"`
		Head     string `json:"head"`
		Problems []struct {
			Seq  uint64 `json:"seq"`
			Kind string `json:"kind"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("audit verify -o json printed %q: %v", stdout.String(), err)
	}
	if report.OK || len(report.Problems) == 0 || report.Head == "" || !strings.Contains(stderr.String(), "problems") {
		t.Errorf("audit verify with a forged checkpoint = %+v, stderr %q; want not ok, a problem and the head", report, stderr.String())
	}

	file := filepath.Join(t.TempDir(), "audit.jsonl")
	cli(t, srv, nil, "audit", "export", "--out", file)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("export file mode = %v, want 0600", info.Mode().Perm())
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		t.Fatal("export wrote no records")
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("export record %d has seq %d, want every record in order from 1", i, r.Seq)
		}
		if i > 0 && !bytes.Equal(r.PrevHash, recs[i-1].Hash) {
			t.Errorf("export record %d prev_hash %s, want record %d's hash %s", r.Seq, r.PrevHash, i, recs[i-1].Hash)
		}
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || n == 0 || uint64(len(recs)) < n {
		t.Fatalf("export wrote %d records, want at least the %s verify saw", len(recs), seq)
	}
	if last := recs[n-1]; last.Hash.String() != hash {
		t.Errorf("export record %d hash = %s, want the checkpoint's %s", n, last.Hash, hash)
	}
	// Standard output gets the same records.
	if got := readAudit(t, cli(t, srv, nil, "audit", "export")); len(got) < len(recs) || !reflect.DeepEqual(got[:len(recs)], recs) {
		t.Errorf("audit export to stdout differs from --out in its first %d records", len(recs))
	}
}
