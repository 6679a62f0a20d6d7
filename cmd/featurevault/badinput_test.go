package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/storestate"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// Markers of the CLI bad-input table: stored, or written in refused input
// files, and never to be printed.
const (
	cliMarkerKey   = "cust-marker-6e1b"
	cliMarkerEmail = "mail-marker-2f7c@example.com"
	cliMarkerToken = "fvt_marker-bogus-token-77kq"
)

// startInProcessServer serves a backend in dir on a loopback port, in this
// process, so that the test can read the store while client commands talk
// to it over the network. It stops when the test ends.
func startInProcessServer(t *testing.T, dir string) (testServer, *store.Store) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	b, err := rpc.OpenBackend(t.Context(), dir, store.DefaultOptions(dir).WithLogger(quiet).WithSyncWrites(false), quiet)
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rpc.NewServer(b, rpc.WithLogger(quiet)).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	return testServer{url: "http://" + ln.Addr().String(), dir: dir}, b.Store
}

// writeFiles writes each name's content into dir and returns the paths.
func writeFiles(t *testing.T, dir string, files map[string]string) map[string]string {
	t.Helper()
	paths := make(map[string]string, len(files))
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

// TestBadCLIInputIsRefusedClearlyAndChangesNothing runs each bad command
// line through the real command tree against a real server and checks that
// it exits with status 1 and a message that says what to fix, prints no
// marker value, key or token, writes no output file, and leaves the store
// (data and keystore; the audit log records refusals and is left out)
// exactly as it was.
func TestBadCLIInputIsRefusedClearlyAndChangesNothing(t *testing.T) {
	t.Parallel()
	srv, st := startInProcessServer(t, t.TempDir())
	cli(t, srv, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	in := writeFiles(t, t.TempDir(), map[string]string{
		"rows.jsonl":       `{"entity": "` + cliMarkerKey + `", "event_time": "2026-09-01T00:00:00Z", "values": {"email": "` + cliMarkerEmail + `", "income": 4242.5, "age": 41}}` + "\n",
		"malformed.yaml":   "entities:\n  - {name: customer, join_key: customer_id\n",
		"unknown-key.yaml": "entities:\n  - {name: customer, join_key: customer_id, type: string, colour: blue}\n",
		"type-change.yaml": "entities:\n  - {name: customer, join_key: customer_id, type: string, description: A retail customer}\n" +
			"feature_views:\n  - name: customer_profile\n    entity: customer\n    description: Profile features of a customer\n" +
			"    fields:\n      - {name: age, type: string}\n",
		"malformed.jsonl":     `{"entity": "` + cliMarkerKey + `", "values": {"email": "` + cliMarkerEmail + `"` + "\n",
		"wrong-type.jsonl":    `{"entity": "` + cliMarkerKey + `", "values": {"age": "` + cliMarkerEmail + `"}}` + "\n",
		"unknown-field.jsonl": `{"entity": "` + cliMarkerKey + `", "values": {"height": 180}}` + "\n",
		"bad-time.jsonl":      `{"entity": "` + cliMarkerKey + `", "event_time": "yesterday", "values": {"age": 1}}` + "\n",
		"duplicate.jsonl":     `{"entity": "` + cliMarkerKey + `", "values": {"age": 1, "age": 2}}` + "\n",
		"second-bad.jsonl":    `{"entity": "c-good", "values": {"age": 1}}` + "\n" + `{"entity": "` + cliMarkerKey + `", "values": {"age": 1.5}}` + "\n",
		"nan.jsonl":           `{"entity": "c-good", "values": {"income": "NaN"}}` + "\n",
		"suppressed.jsonl":    `{"entity": "c-sup", "values": {"age": 1}}` + "\n",
		"empty.jsonl":         "\n\n",
		"bad-cell.csv":        "customer_id,event_timestamp,age\n" + cliMarkerKey + ",2026-09-01T00:00:00Z,forty\n",
		"unknown-column.csv":  "customer_id,event_timestamp,height\n" + cliMarkerKey + ",2026-09-01T00:00:00Z,180\n",
		"no-keys.txt":         "# nobody\n\n",
		"limits.yaml": "entities:\n  - {name: customer, join_key: customer_id, type: string, description: A retail customer}\n" +
			"feature_views:\n  - name: limits\n    entity: customer\n    fields:\n      - {name: score, type: int64, required: true, min: 0, max: 100}\n",
		"bad-constraint.yaml": "entities:\n  - {name: customer, join_key: customer_id, type: string, description: A retail customer}\n" +
			"feature_views:\n  - name: limits2\n    entity: customer\n    fields:\n      - {name: score, type: int64, max_length: 5}\n",
		"above-max.jsonl": `{"entity": "` + cliMarkerKey + `", "values": {"score": 1000}}` + "\n",
	})
	missing := filepath.Join(t.TempDir(), "missing")
	cli(t, srv, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", in["rows.jsonl"])
	cli(t, srv, nil, "apply", "-f", in["limits.yaml"])
	cli(t, srv, nil, "principal", "create", "gone", "--role", "analyst")
	cli(t, srv, nil, "principal", "revoke", "gone")
	cli(t, srv, nil, "erase", "--entity", "customer", "--key", "c-sup", "--suppress")
	cli(t, srv, nil, "policy", "grant", "admin", "--action", "aggregate", "--on", "customer_profile.*")
	adminToken := srv.adminToken(t)
	secrets := []string{cliMarkerKey, cliMarkerEmail, "4242.5", cliMarkerToken, adminToken}
	outDir := t.TempDir() // export targets: must stay empty
	out := func(name string) string { return filepath.Join(outDir, name) }

	tests := []struct {
		name string
		args []string
		env  map[string]string // overrides; "" unsets
		want string            // what the message must say
	}{
		// apply
		{"apply: missing file", []string{"apply", "-f", missing + ".yaml"}, nil, "open " + missing + ".yaml: no such file"},
		{"apply: no -f", []string{"apply"}, nil, `required flag(s) "file" not set`},
		{"apply: malformed YAML", []string{"apply", "-f", in["malformed.yaml"]}, nil, "malformed.yaml: "},
		{"apply: unknown spec key", []string{"apply", "-f", in["unknown-key.yaml"]}, nil, "colour"},
		{"apply: field type change", []string{"apply", "-f", in["type-change.yaml"]}, nil, `apply view "customer_profile"`},

		{"apply: constraint on the wrong type", []string{"apply", "-f", in["bad-constraint.yaml"]}, nil, "max_length applies only to string and bytes fields"},

		// put
		{"put: missing file", []string{"put", "--view", "customer_profile", "-f", missing + ".jsonl"}, nil, "open " + missing + ".jsonl: no such file"},
		{"put: malformed JSON", []string{"put", "--view", "customer_profile", "-f", in["malformed.jsonl"]}, nil, "line 1: not valid JSON"},
		{"put: wrong type", []string{"put", "--view", "customer_profile", "-f", in["wrong-type.jsonl"]}, nil, `line 1: field "age" (int64)`},
		{"put: unknown field", []string{"put", "--view", "customer_profile", "-f", in["unknown-field.jsonl"]}, nil, `no field "height"`},
		{"put: bad event_time", []string{"put", "--view", "customer_profile", "-f", in["bad-time.jsonl"]}, nil, "event_time: not an RFC 3339 time"},
		{"put: duplicate field", []string{"put", "--view", "customer_profile", "-f", in["duplicate.jsonl"]}, nil, `"age" appears twice`},
		{"put: one bad line writes nothing", []string{"put", "--view", "customer_profile", "-f", in["second-bad.jsonl"]}, nil, "line 2: "},
		{"put: NaN where the field does not allow it", []string{"put", "--view", "customer_profile", "-f", in["nan.jsonl"]}, nil, `field "income" (float64)`},
		{"put: subject erased with --suppress, refused by the server", []string{"put", "--view", "customer_profile", "-f", in["suppressed.jsonl"]}, nil, "suppress"},
		{"put: value above the field's max", []string{"put", "--view", "limits", "-f", in["above-max.jsonl"]}, nil, `field "score" is above max 100`},
		{"put: empty input", []string{"put", "--view", "customer_profile", "-f", in["empty.jsonl"]}, nil, "no rows"},
		{"put: --batch 0", []string{"put", "--view", "customer_profile", "-f", in["rows.jsonl"], "--batch", "0"}, nil, "--batch must be positive"},
		{"put: unknown view", []string{"put", "--view", "nope", "-f", in["rows.jsonl"]}, nil, `view "nope"`},
		{"put: purpose not a name", []string{"put", "--view", "customer_profile", "-f", in["rows.jsonl"], "--purpose", "ingest ion"}, nil, "--purpose: purpose name"},

		// get
		{"get: unknown feature", []string{"get", "--view", "customer_profile", "--entity", cliMarkerKey, "--features", "height"}, nil, `no field "height"`},
		{"get: no --entity", []string{"get", "--view", "customer_profile"}, nil, `required flag(s) "entity" not set`},

		// ingest
		{"ingest: unknown format", []string{"ingest", in["bad-cell.csv"], "--view", "customer_profile", "--format", "xlsx"}, nil, "xlsx"},
		{"ingest: missing file", []string{"ingest", missing + ".csv", "--view", "customer_profile"}, nil, missing + ".csv"},
		{"ingest: --batch-rows 0", []string{"ingest", in["bad-cell.csv"], "--view", "customer_profile", "--batch-rows", "0"}, nil, "--batch-rows 0"},
		{"ingest: malformed CSV cell", []string{"ingest", in["bad-cell.csv"], "--view", "customer_profile"}, nil, "age"},
		{"ingest: column the view does not have", []string{"ingest", in["unknown-column.csv"], "--view", "customer_profile"}, nil, "height"},

		// export
		{"export: bad --start", []string{"export", "--view", "customer_profile", "--out", out("a.parquet"), "--start", "last week"}, nil, `--start "last week" is not an RFC 3339 time`},
		{"export: unknown format", []string{"export", "--view", "customer_profile", "--out", out("a.xlsx")}, nil, "--format"},
		{"export: --as-of with --end", []string{"export", "--view", "customer_profile", "--out", out("a.arrow"), "--as-of", "2026-01-01T00:00:00Z", "--end", "2026-01-01T00:00:00Z"}, nil, "as-of"},
		{"export: directory missing", []string{"export", "--view", "customer_profile", "--out", filepath.Join(missing, "a.arrow")}, nil, "output file"},

		// query and budgets
		{"query: unknown --fn", []string{"query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "median", "--epsilon", "1"}, nil, `--fn "median"`},
		{"query: negative --epsilon", []string{"query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "count", "--epsilon", "-1"}, nil, "epsilon"},
		{"query: --buckets not numbers", []string{"query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "histogram", "--epsilon", "1", "--buckets", "0,ten"}, nil, "--buckets"},
		{"query: aggregate not granted", []string{"query", "aggregate", "--view", "instrument_quotes", "--field", "bid", "--fn", "count", "--epsilon", "1"}, nil, "aggregate denied"},
		{"query: no budget", []string{"query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "count", "--epsilon", "1"}, nil, "budget"},
		{"budget: negative", []string{"budget", "set", "admin", "--epsilon", "-1"}, nil, "epsilon"},
		{"budget: unknown principal", []string{"budget", "set", "nobody", "--epsilon", "1"}, nil, `"nobody"`},

		// keys
		{"keys: retire a version that is not a number", []string{"keys", "retire", "v1"}, nil, `VERSION "v1"`},
		{"keys: retire an unknown version", []string{"keys", "retire", "12345"}, nil, "(not_found)"},
		{"keys: rewrap with a negative --batch", []string{"keys", "rewrap", "--batch", "-1"}, nil, "batch size -1"},
		{"keys: rotate a subject never written", []string{"keys", "rotate-subject", "--entity", "customer", "--key", "c-never"}, nil, "(not_found)"},

		// subjects
		{"erase: neither --key nor --file", []string{"erase", "--entity", "customer"}, nil, "--key (repeatable) or --file, not both"},
		{"erase: both --key and --file", []string{"erase", "--entity", "customer", "--key", cliMarkerKey, "--file", in["no-keys.txt"]}, nil, "not both"},
		{"erase: key not of the entity's form", []string{"erase", "--entity", "instrument", "--key", cliMarkerKey}, nil, "int64"},
		{"erase: key file without keys", []string{"erase", "--entity", "customer", "--file", in["no-keys.txt"]}, nil, "holds no entity keys"},
		{"subject: restrict for a purpose with policy syntax", []string{"subject", "restrict", "--entity", "customer", "--key", cliMarkerKey, "--purpose", "training, admin"}, nil, "purpose"},
		{"subject: export of an unknown entity", []string{"subject", "export", "--entity", "nope", "--key", cliMarkerKey}, nil, `"nope"`},

		// principals and tokens
		{"token: --ttl not a duration", []string{"token", "issue", "admin", "--ttl", "forever"}, nil, `"--ttl"`},
		{"token: for a revoked principal", []string{"token", "issue", "gone"}, nil, `"gone"`},
		{"principal: exists", []string{"principal", "create", "gone", "--role", "analyst"}, nil, "(already_exists)"},

		// the connection
		{"unreachable server", []string{"views", "list"}, map[string]string{envServer: "http://127.0.0.1:1"}, "cannot reach a FeatureVault server"},
		{"bad token", []string{"views", "list"}, map[string]string{envToken: cliMarkerToken}, "the server refused the token from FEATUREVAULT_TOKEN"},
		{"--timeout not a duration", []string{"--timeout", "soon", "views", "list"}, nil, `"--timeout"`},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`},
		{"unknown flag", []string{"get", "--view", "customer_profile", "--entity", "x", "--colour", "blue"}, nil, "--colour"},
	}
	base := map[string]string{envServer: srv.url, envToken: adminToken, envPurpose: "ingestion"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := storestate.Take(st)
			if err != nil {
				t.Fatal(err)
			}
			env := func(k string) string {
				if v, ok := tt.env[k]; ok {
					return v
				}
				return base[k]
			}
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"--data", srv.dir}, tt.args...), env, strings.NewReader(""), &stdout, &stderr)
			if code != 1 {
				t.Errorf("exit status = %d, want 1; stdout %q", code, stdout.String())
			}
			msg := stderr.String()
			if !strings.HasPrefix(msg, "featurevault: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("stderr = %q, want \"featurevault: ...\" saying %q", msg, tt.want)
			}
			for _, secret := range secrets {
				if strings.Contains(stdout.String()+msg, secret) {
					t.Errorf("output %q %q holds the secret %q", stdout.String(), msg, secret)
				}
			}
			after, err := storestate.Take(st)
			if err != nil {
				t.Fatal(err)
			}
			if diff := before.Diff(after); len(diff) > 0 {
				t.Errorf("the refused command changed the store (audit log excluded):\n  %s", strings.Join(diff, "\n  "))
			}
			if left, _ := os.ReadDir(outDir); len(left) > 0 {
				t.Errorf("the refused command left %d files in the export directory, e.g. %s", len(left), left[0].Name())
				for _, e := range left {
					os.Remove(filepath.Join(outDir, e.Name()))
				}
			}
		})
	}
}
