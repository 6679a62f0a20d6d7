package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The end-to-end tests run the real server through "featurevault serve" on
// a free loopback port and a temporary data directory, then drive it with
// the client commands exactly as a person would, using the files in
// examples/quickstart.

const quickstart = "../../examples/quickstart"

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

// testServer is a server started by startServer: its URL and its data
// directory, which holds the bootstrap admin token.
type testServer struct {
	url string
	dir string
}

// adminToken reads the bootstrap admin token the server wrote.
func (s testServer) adminToken(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, "admin.token"))
	if err != nil {
		t.Fatalf("read the bootstrap admin token: %v", err)
	}
	return strings.TrimSpace(string(data))
}

// startServer runs "featurevault serve" on dir (with extra serve flags)
// until the test ends or stop is called. stop cancels the server's
// context, as SIGINT does, and checks that it shut down cleanly.
func startServer(t *testing.T, dir string, extra ...string) (srv testServer, stop func()) {
	t.Helper()
	_, url, stop := serveOut(t, dir, extra...)
	return testServer{url: url, dir: dir}, stop
}

// serveOut runs "featurevault serve" on dir with extra flags until the
// test ends or stop is called, and returns what it printed on stdout up
// to and including the line with its URL, and the URL.
func serveOut(t *testing.T, dir string, extra ...string) (out []string, url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	root := newRootCmd(noEnv)
	root.SetArgs(append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "warn"}, extra...))
	root.SetOut(pw)
	root.SetErr(logs)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	lines := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			got = append(got, sc.Text())
			if strings.HasPrefix(sc.Text(), "featurevault serving on ") {
				lines <- got
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve returned %v after shutdown; logs:\n%s", err, logs)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case out = <-lines:
		return out, strings.TrimPrefix(out[len(out)-1], "featurevault serving on "), stop
	case err := <-done:
		t.Fatalf("serve exited before listening: %v; logs:\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("serve printed no URL within 30s; logs:\n%s", logs)
	}
	return nil, "", stop
}

// cli runs one client command against srv and returns its stdout,
// failing the test if it fails. It authenticates as the bootstrap admin,
// through the admin.token file in the server's data directory, unless
// args pass --token.
func cli(t *testing.T, srv testServer, stdin io.Reader, args ...string) string {
	t.Helper()
	out, err := cliErr(t, srv, stdin, args...)
	if err != nil {
		t.Fatalf("featurevault %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// cliErr runs one client command and returns its stdout and error.
func cliErr(t *testing.T, srv testServer, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd(noEnv)
	root.SetArgs(append([]string{"--server", srv.url, "--data", srv.dir, "--timeout", "20s"}, args...))
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	root.SetIn(stdin)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(t.Context())
	return stdout.String(), err
}

// onlineJSON is one line of "get -o json", decoded.
type onlineJSON struct {
	Entity    string  `json:"entity"`
	EventTime *string `json:"event_time"`
	Features  map[string]struct {
		Value  any    `json:"value"`
		Status string `json:"status"`
	} `json:"features"`
}

// decodeLines decodes JSON lines into generic values, so that got and
// want compare by meaning rather than by spacing.
func decodeLines(t *testing.T, text string) []any {
	t.Helper()
	var out []any
	for line := range strings.Lines(text) {
		var x any
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			t.Fatalf("output line %q is not JSON: %v", line, err)
		}
		out = append(out, x)
	}
	return out
}

func TestQuickstartRoundTripsEveryTypeThroughTheServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	server, _ := startServer(t, dir)

	applied := cli(t, server, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	for _, want := range []string{
		"entity customer: created", "entity instrument: created",
		"view customer_profile: created with 7 fields (schema version 1)",
		"view instrument_quotes: created with 4 fields (schema version 1)",
	} {
		if !strings.Contains(applied, want) {
			t.Errorf("apply output = %q, want it to contain %q", applied, want)
		}
	}
	if again := cli(t, server, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml")); !strings.Contains(again, "view customer_profile: applied, no fields added") {
		t.Errorf("second apply output = %q, want it to report no change to customer_profile", again)
	}

	if out := cli(t, server, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl")); !strings.HasPrefix(out, "wrote 4 rows ") {
		t.Errorf("put customers output = %q, want \"wrote 4 rows ...\"", out)
	}
	before := time.Now().Add(-time.Second)
	instruments, err := os.Open(filepath.Join(quickstart, "rows-instruments.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer instruments.Close()
	if out := cli(t, server, instruments, "put", "--purpose", "ingestion", "--view", "instrument_quotes", "-f", "-", "--batch", "2"); !strings.HasPrefix(out, "wrote 3 rows ") {
		t.Errorf("put instruments from stdin output = %q, want \"wrote 3 rows ...\"", out)
	}
	after := time.Now().Add(time.Second)

	// c-42 has two rows: the later one (2026-09-01) wins whatever the file
	// order. c-7's avatar is an explicit null; c-1001 left most fields out.
	wantCustomers := `
{"entity":"c-42","event_time":"2026-09-01T00:00:00Z","features":{
  "email":{"value":"a@example.com","status":"PRESENT"},
  "income":{"value":52000.5,"status":"PRESENT"},
  "age":{"value":41,"status":"PRESENT"},
  "embedding":{"value":[0.25,-0.5,0.125,1],"status":"PRESENT"},
  "is_active":{"value":true,"status":"PRESENT"},
  "signup_time":{"value":"2021-06-15T09:30:00Z","status":"PRESENT"},
  "avatar":{"value":"iVBORw0KGgo=","status":"PRESENT"}}}
{"entity":"c-7","event_time":"2026-08-15T12:00:00Z","features":{
  "email":{"value":"b@example.org","status":"PRESENT"},
  "income":{"value":0,"status":"PRESENT"},
  "age":{"value":29,"status":"PRESENT"},
  "embedding":{"value":[1.5,0,-2,0.75],"status":"PRESENT"},
  "is_active":{"value":false,"status":"PRESENT"},
  "signup_time":{"value":"2024-01-02T03:04:05.5Z","status":"PRESENT"},
  "avatar":{"value":null,"status":"NULL"}}}
{"entity":"c-1001","event_time":"2026-07-04T08:00:00Z","features":{
  "email":{"value":"c@example.net","status":"PRESENT"},
  "income":{"value":null,"status":"NULL"},
  "age":{"value":57,"status":"PRESENT"},
  "embedding":{"value":null,"status":"NULL"},
  "is_active":{"value":null,"status":"NULL"},
  "signup_time":{"value":null,"status":"NULL"},
  "avatar":{"value":null,"status":"NULL"}}}
{"entity":"c-missing","event_time":null,"features":{
  "email":{"value":null,"status":"NOT_FOUND"},
  "income":{"value":null,"status":"NOT_FOUND"},
  "age":{"value":null,"status":"NOT_FOUND"},
  "embedding":{"value":null,"status":"NOT_FOUND"},
  "is_active":{"value":null,"status":"NOT_FOUND"},
  "signup_time":{"value":null,"status":"NOT_FOUND"},
  "avatar":{"value":null,"status":"NOT_FOUND"}}}
`
	getCustomers := []string{"get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7", "--entity", "c-1001", "--entity", "c-missing", "-o", "json"}
	got := cli(t, server, nil, getCustomers...)
	if len(strings.Split(strings.TrimSpace(got), "\n")) != 4 {
		t.Errorf("get printed %q, want one line per entity", got)
	}
	want := decodeLines(t, compactLines(t, wantCustomers))
	if g := decodeLines(t, got); !reflect.DeepEqual(g, want) {
		t.Errorf("get customer_profile -o json =\n%s\nwant\n%s", got, compactLines(t, wantCustomers))
	}
	// Feature order in the output is the order asked for.
	if got := cli(t, server, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--features", "age,email", "-o", "json"); !strings.Contains(got, `"features":{"age":{"value":41,"status":"PRESENT"},"email":{"value":"a@example.com","status":"PRESENT"}}`) {
		t.Errorf("get --features age,email = %q, want age then email only", got)
	}

	// Instruments 1 and 2 carry no event_time: the server stamped them now.
	// Instrument 3's quote is from 2025, beyond the 24h TTL.
	var quotes []onlineJSON
	for line := range strings.Lines(cli(t, server, nil, "get", "--purpose", "training", "--view", "instrument_quotes", "--entity", "1", "--entity", "3", "--entity", "99", "-o", "json")) {
		var q onlineJSON
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			t.Fatalf("get instrument_quotes line %q: %v", line, err)
		}
		quotes = append(quotes, q)
	}
	if len(quotes) != 3 {
		t.Fatalf("get instrument_quotes printed %d rows, want 3", len(quotes))
	}
	if q := quotes[0]; q.Features["bid"].Value != 189.52 || q.Features["ask"].Value != 189.55 || q.Features["volume"].Value != 1250000.0 || q.Features["venue"].Value != "XNAS" {
		t.Errorf("instrument 1 = %+v, want bid 189.52, ask 189.55, volume 1250000, venue XNAS", q)
	}
	if q := quotes[0]; q.EventTime == nil {
		t.Errorf("instrument 1 has no event_time, want the time of the put")
	} else if et, err := time.Parse(time.RFC3339Nano, *q.EventTime); err != nil || et.Before(before) || et.After(after) {
		t.Errorf("instrument 1 event_time = %s, want between %s and %s", *q.EventTime, before, after)
	}
	for _, c := range []struct {
		q    onlineJSON
		want string
	}{{quotes[1], "EXPIRED"}, {quotes[2], "NOT_FOUND"}} {
		for name, f := range c.q.Features {
			if f.Status != c.want || f.Value != nil {
				t.Errorf("instrument %s feature %s = %v %s, want null %s", c.q.Entity, name, f.Value, f.Status, c.want)
			}
		}
	}

	// The table form shows the same values, aligned.
	table := cli(t, server, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-1001", "--features", "email,age,avatar")
	wantTable := "ENTITY  EVENT_TIME            email          age  avatar\n" +
		"c-1001  2026-07-04T08:00:00Z  c@example.net  57   <NULL>\n"
	if table != wantTable {
		t.Errorf("get -o table =\n%s\nwant\n%s", table, wantTable)
	}

	// views get prints a spec that parses back to the applied view.
	if spec := cli(t, server, nil, "views", "get", "customer_profile"); !strings.Contains(spec, "- {name: income, type: float64, tags: [pii, sensitive], bounds: [0, 1000000], buckets: [0, 25000, 50000, 100000, 1000000]}") {
		t.Errorf("views get customer_profile =\n%s\nwant it to show the income field as in spec.yaml", spec)
	}
	if list := cli(t, server, nil, "views", "list"); !strings.Contains(list, "instrument_quotes") || !strings.Contains(list, "24h ") {
		t.Errorf("views list =\n%s\nwant instrument_quotes with its 24h TTL", list)
	}
}

func TestDataSurvivesAServerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, stop := startServer(t, dir)
	cli(t, first, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, first, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	get := []string{"get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-42", "--entity", "c-7", "-o", "json"}
	want := cli(t, first, nil, get...)
	if !strings.Contains(want, `"a@example.com"`) {
		t.Fatalf("get before the restart = %q, want c-42's email", want)
	}
	stop()

	// The second server reopens the same directory: the local KMS root,
	// the wrapped KEK, the subject keys and the rows.
	second, _ := startServer(t, dir)
	if got := cli(t, second, nil, get...); got != want {
		t.Errorf("get after a restart =\n%s\nwant what it printed before\n%s", got, want)
	}
}

func TestPutWritesNothingWhenAnyLineIsBad(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t, t.TempDir())
	cli(t, server, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	rows := `{"entity": "c-1", "values": {"age": 30}}
{"entity": "c-2", "values": {"age": 30.5}}
{"entity": "c-3", "values": {"avatar": "%%%"}}
`
	_, err := cliErr(t, server, strings.NewReader(rows), "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-")
	if err == nil {
		t.Fatal("put of a file with bad lines succeeded, want an error")
	}
	for _, want := range []string{"nothing was written", `line 2: field "age" (int64): number is not an integer`, `line 3: field "avatar" (bytes): not valid base64`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("put error = %q, want it to contain %q", err, want)
		}
	}
	got := cli(t, server, nil, "get", "--purpose", "training", "--view", "customer_profile", "--entity", "c-1", "--features", "age", "-o", "json")
	if !strings.Contains(got, `"status":"NOT_FOUND"`) {
		t.Errorf("after a refused put, c-1 = %q, want NOT_FOUND (the good first line must not be written)", got)
	}
}

func TestCommandErrorsSayWhatToFix(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, t.TempDir())
	noTokenDir := t.TempDir()
	// Every case starts from this environment; a case's env overrides it
	// ("" unsets a variable).
	base := map[string]string{envServer: srv.url, envToken: srv.adminToken(t), envPurpose: "training"}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string
		notWant string // a secret that must not be printed
	}{
		{"unknown view, everything from the environment", nil, []string{"get", "--view", "nope", "--entity", "x"},
			`view "nope" does not exist`, ""},
		{"connect code shown", nil, []string{"get", "--view", "nope", "--entity", "x"}, "(not_found)\n", ""},
		{"no server listening", map[string]string{envServer: "http://127.0.0.1:1"}, []string{"views", "list"},
			"featurevault: cannot reach a FeatureVault server at http://127.0.0.1:1", ""},
		{"server not a URL", map[string]string{envServer: "127.0.0.1:8433"}, []string{"views", "list"}, `featurevault: --server "127.0.0.1:8433" is not a server URL`, ""},
		{"bad output format", nil, []string{"get", "--view", "v", "--entity", "x", "-o", "yaml"}, `featurevault: -o "yaml": use json or table`, ""},
		{"missing spec file", nil, []string{"apply", "-f", "does-not-exist.yaml"}, "featurevault: open does-not-exist.yaml: ", ""},
		{"invalid spec", nil, []string{"apply", "-f", "-"}, "featurevault: standard input: store: ", ""},

		// Credentials and purpose.
		{"no token anywhere", map[string]string{envToken: ""}, []string{"--data", noTokenDir, "views", "list"},
			"featurevault: no token: pass --token or set FEATUREVAULT_TOKEN", ""},
		{"token refused, from the flag", nil, []string{"--token", "fvt_notarealtoken0123456789", "views", "list"},
			"the server refused the token from --token: the bearer token is not valid: it is unknown, expired or revoked (unauthenticated)", "fvt_notarealtoken0123456789"},
		{"token refused, from the environment", map[string]string{envToken: "fvt_envtoken0123456789"}, []string{"principal", "list"},
			"the server refused the token from FEATUREVAULT_TOKEN", "fvt_envtoken0123456789"},
		{"token with a space", nil, []string{"--token", "fvt_half tok", "views", "list"},
			"the token from --token contains spaces or control characters", "fvt_half"},
		{"get without a purpose", map[string]string{envPurpose: ""}, []string{"get", "--view", "customer_profile", "--entity", "x"},
			"pass --purpose or set FEATUREVAULT_PURPOSE", ""},
		{"put without a purpose", map[string]string{envPurpose: ""}, []string{"put", "--view", "customer_profile", "-f", "-"},
			"pass --purpose or set FEATUREVAULT_PURPOSE", ""},
		{"purpose with a comma", nil, []string{"get", "--purpose", "train,ing", "--view", "v", "--entity", "x"},
			`--purpose: purpose name "train,ing" has a comma at position 6`, ""},
		{"purpose with a newline, from the environment", map[string]string{envPurpose: "train\ning"}, []string{"get", "--view", "v", "--entity", "x"},
			`FEATUREVAULT_PURPOSE: purpose name "train\ning" has a newline`, ""},

		// Names that could smuggle policy syntax are refused.
		{"principal name with a comma", nil, []string{"principal", "create", "bad,name", "--role", "analyst"},
			`principal name "bad,name" has a comma at position 4; use only a-z, 0-9 and _, starting with a letter (invalid_argument)`, ""},
		{"principal name with a quote", nil, []string{"principal", "create", `bad"name`, "--role", "analyst"},
			`principal name "bad\"name" has a quote at position 4`, ""},
		{"principal name with a newline", nil, []string{"principal", "create", "bad\nname", "--role", "analyst"},
			`principal name "bad\nname" has a newline at position 4`, ""},
		{"role name with a quote", nil, []string{"principal", "create", "ok_name", "--role", `ana"lyst`},
			`role name "ana\"lyst" has a quote`, ""},
		{"assigned role with a newline", nil, []string{"role", "assign", "admin", "ana\nlyst"},
			`role name "ana\nlyst" has a newline`, ""},
		{"granted role with a comma", nil, []string{"policy", "grant", "ana,lyst", "--action", "read", "--on", "*"},
			`role name "ana,lyst" has a comma`, ""},
		{"object with a comma", nil, []string{"policy", "grant", "analyst", "--action", "read", "--on", "customer_profile.email,admin"},
			`has a comma`, ""},
		{"object with a newline", nil, []string{"policy", "grant", "analyst", "--action", "read", "--on", "customer_profile.email\np, analyst, *, admin, *, *, allow"},
			`has a newline`, ""},
		{"rule purpose with a quote", nil, []string{"policy", "revoke", "analyst", "--action", "read", "--on", "*", "--purpose", `a"b`},
			`purpose name "a\"b" has a quote`, ""},
		{"attribute value with a quote", nil, []string{"principal", "create", "ok_name", "--role", "analyst", "--attr", `purpose=tr"aining`},
			`purpose name "tr\"aining" has a quote`, ""},
		{"role list with an empty name", nil, []string{"principal", "create", "ok_name", "--role", "analyst,,trainer"},
			`--role "analyst,,trainer" has an empty name`, ""},

		// Malformed --attr.
		{"attr without =", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "purpose"},
			`--attr "purpose": attribute "purpose" has no "="; use KEY=VALUE`, ""},
		{"attr without key", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "=training"},
			`attribute "=training" has no key before "="`, ""},
		{"attr without value", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "purpose="},
			`attribute "purpose" has an empty value`, ""},
		{"attr with an empty value between bars", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "purpose=a||b"},
			`attribute "purpose" has an empty value`, ""},
		{"attr with two =", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "purpose=a=b"},
			`attribute "purpose=a=b" has more than one "="`, ""},
		{"attr key twice", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "purpose=a,env=prod", "--attr", "purpose=b"},
			`attribute "purpose" is given twice`, ""},
		{"attr with an empty attribute", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "purpose=a,,env=prod"},
			`--attr "purpose=a,,env=prod" has an empty attribute`, ""},
		{"attr value twice", nil, []string{"principal", "create", "ok_name", "--role", "r", "--attr", "purpose=a|a"},
			`attribute "purpose" lists "a" twice`, ""},

		// Other admin arguments.
		{"unknown action", nil, []string{"policy", "grant", "analyst", "--action", "own", "--on", "*"},
			`--action "own": use read, aggregate, write, admin or backup`, ""},
		{"rule without --on", nil, []string{"policy", "grant", "analyst", "--action", "read"}, `required flag(s) "on" not set`, ""},
		{"revoking a rule that does not exist", nil, []string{"policy", "revoke", "nobody", "--action", "read", "--on", "*"}, "(not_found)", ""},
		{"revoking an unknown principal", nil, []string{"principal", "revoke", "nobody"}, "(not_found)", ""},
		{"explain without purpose", nil, []string{"policy", "explain", "--principal", "admin", "--view", "customer_profile"},
			"policy explain needs --purpose", ""},
		{"sub-second ttl", nil, []string{"token", "issue", "admin", "--ttl", "500ms"}, "--ttl 500ms: give a whole number of seconds", ""},
		{"bad checkpoint", nil, []string{"audit", "verify", "--checkpoint", "nonsense"}, `--checkpoint "nonsense" is not SEQ:HASH`, ""},
		{"tail of no records", nil, []string{"audit", "tail", "-n", "0"}, "-n 0: give a number of records from 1 to", ""},
		{"listing format", nil, []string{"principal", "list", "-o", "yaml"}, `-o "yaml": use table, json`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			env := func(k string) string {
				if v, ok := tt.env[k]; ok {
					return v
				}
				return base[k]
			}
			code := run(t.Context(), tt.args, env, strings.NewReader("entities: [{name: Bad Name}]\n"), &stdout, &stderr)
			if code != 1 {
				t.Errorf("exit status = %d, want 1; stdout %q", code, stdout.String())
			}
			if !strings.HasPrefix(stderr.String(), "featurevault: ") || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want \"featurevault: ...\" containing %q", stderr.String(), tt.want)
			}
			if tt.notWant != "" && strings.Contains(stdout.String()+stderr.String(), tt.notWant) {
				t.Errorf("output %q %q shows the secret %q", stdout.String(), stderr.String(), tt.notWant)
			}
		})
	}
}

// compactLines turns the indented JSON lines of a test's want string into
// one object per line.
func compactLines(t *testing.T, s string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var b strings.Builder
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("want string is not JSON: %v", err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			t.Fatal(err)
		}
		b.WriteString(c.String() + "\n")
	}
	return b.String()
}
