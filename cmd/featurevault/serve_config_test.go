package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a config file into a fresh directory.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// flagsAfterConfig parses args as serve's command line, applies the
// config file at path and returns the serve command, whose flags then
// hold the effective settings.
func flagsAfterConfig(t *testing.T, path string, args ...string) (*serveFlags, error) {
	t.Helper()
	cmd := newServeCmd(noEnv)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	err := applyConfigFile(cmd, path)
	f := cmd.Flags()
	get := func(name string) string { return f.Lookup(name).Value.String() }
	origins, _ := f.GetStringArray("cors-origin")
	d, _ := f.GetDuration("max-stream-duration")
	return &serveFlags{listen: get("listen"), logLevel: get("log-level"), allowPlaintext: get("allow-plaintext"), maxStreams: get("max-streams-per-principal"), streamDuration: d, origins: origins}, err
}

// serveFlags are the settings the config tests look at.
type serveFlags struct {
	listen, logLevel, allowPlaintext, maxStreams string
	streamDuration                               time.Duration
	origins                                      []string
}

func TestConfigFileSetsFlagsAndTheCommandLineWins(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
listen: 0.0.0.0:9000
log-level: debug
allow-plaintext: true
max-stream-duration: 10m
cors-origin:
  - https://a.example.com
  - https://b.example.com
`)
	tests := []struct {
		name string
		args []string
		want serveFlags
	}{
		{"file only", nil, serveFlags{listen: "0.0.0.0:9000", logLevel: "debug", allowPlaintext: "true", maxStreams: "32", streamDuration: 10 * time.Minute, origins: []string{"https://a.example.com", "https://b.example.com"}}},
		{"command line wins", []string{"--listen", "127.0.0.1:1", "--cors-origin", "https://c.example.com", "--max-streams-per-principal", "4"},
			serveFlags{listen: "127.0.0.1:1", logLevel: "debug", allowPlaintext: "true", maxStreams: "4", streamDuration: 10 * time.Minute, origins: []string{"https://c.example.com"}}},
		{"command line false beats file true", []string{"--allow-plaintext=false"},
			serveFlags{listen: "0.0.0.0:9000", logLevel: "debug", allowPlaintext: "false", maxStreams: "32", streamDuration: 10 * time.Minute, origins: []string{"https://a.example.com", "https://b.example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := flagsAfterConfig(t, path, tt.args...)
			if err != nil {
				t.Fatalf("applyConfigFile: %v", err)
			}
			if got.listen != tt.want.listen || got.logLevel != tt.want.logLevel || got.allowPlaintext != tt.want.allowPlaintext ||
				got.maxStreams != tt.want.maxStreams || got.streamDuration != tt.want.streamDuration || !slices.Equal(got.origins, tt.want.origins) {
				t.Errorf("after the config file, flags = %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestConfigFileRefusesUnknownKeysAndWrongTypesChangingNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          []string
	}{
		{"misspelt key", "listen: 127.0.0.1:1\nlisen: 0.0.0.0:1\n", []string{"line 2", `unknown key "lisen"`, `did you mean "listen"`}},
		{"client flag", "token: secret\n", []string{`unknown key "token"`}},
		{"int as word", "max-request-bytes: lots\n", []string{"line 1", `key "max-request-bytes"`, `"lots" is not a whole number`}},
		{"duration without unit", "kek-rotation: 720\n", []string{`key "kek-rotation"`, "is not a duration such as 30s"}},
		{"bool as word", "allow-plaintext: maybe\n", []string{`key "allow-plaintext"`, "is not a boolean"}},
		{"list for a single flag", "listen: [a, b]\n", []string{`key "listen"`, "takes one value", "not a list"}},
		{"mapping value", "cors-origin: {a: b}\n", []string{`key "cors-origin"`, "not a mapping"}},
		{"empty value", "listen:\n", []string{`key "listen"`, "no value"}},
		{"duplicate key", "listen: a:1\nlisten: b:2\n", []string{`key "listen" appears twice`}},
		{"nested config", "config: other.yaml\n", []string{"cannot name another config file"}},
		{"not a mapping", "- listen\n", []string{"want a mapping of flag names"}},
		{"not YAML", "listen: [\n", []string{"is not YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The first key of "misspelt key" is good: it must not be applied
			// when a later one is refused.
			got, err := flagsAfterConfig(t, writeConfig(t, tt.content))
			if err == nil {
				t.Fatalf("applyConfigFile accepted %q", tt.content)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got.listen != "127.0.0.1:8433" {
				t.Errorf("a refused config file changed --listen to %q", got.listen)
			}
		})
	}
}

func TestConfigFileMissingIsAnError(t *testing.T) {
	t.Parallel()
	_, err := flagsAfterConfig(t, filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "--config") || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("applyConfigFile of a missing file = %v, want an error naming --config and the file", err)
	}
}

// TestExampleServeConfigParses keeps examples/serve.yaml in step with the
// flags: a renamed flag would make it refused.
func TestExampleServeConfigParses(t *testing.T) {
	t.Parallel()
	got, err := flagsAfterConfig(t, "../../examples/serve.yaml")
	if err != nil {
		t.Fatalf("examples/serve.yaml: %v", err)
	}
	if got.listen != "127.0.0.1:8433" || got.streamDuration != time.Hour || !slices.Equal(got.origins, []string{"http://localhost:5173"}) {
		t.Errorf("examples/serve.yaml gives %+v, want listen 127.0.0.1:8433, a 1h stream limit and one CORS origin", *got)
	}
}

// TestServeReadsTheConfigFileNamedByTheEnvironment runs serve with
// FEATUREVAULT_CONFIG naming a file with a bad value: serve refuses it,
// naming the key, and creates nothing.
func TestServeReadsTheConfigFileNamedByTheEnvironment(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, "max-streams-per-principal: many\n")
	dir := filepath.Join(t.TempDir(), "data")
	env := func(k string) string {
		if k == envConfig {
			return path
		}
		return ""
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"serve", "--data", dir}, env, strings.NewReader(""), &stdout, &stderr); code != 1 {
		t.Fatalf("serve with a bad config file exited %d, want 1; stderr: %s", code, stderr.String())
	}
	if want := `key "max-streams-per-principal": "many" is not a whole number`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused serve created %s (stat: %v)", dir, err)
	}
}
