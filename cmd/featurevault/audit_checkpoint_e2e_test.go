package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditCheckpointExportAndOfflineVerify runs what an operator and an
// auditor run: sign a checkpoint and export the public keyset, export the
// log, verify it offline (a server-less command with only the keyset),
// then verify an edited copy and see it refused.
func TestAuditCheckpointExportAndOfflineVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sink := filepath.Join(t.TempDir(), "sink.jsonl")
	srv, _ := startServer(t, dir, "--audit-checkpoint-sink", sink)
	work := t.TempDir()
	keysFile, logFile := filepath.Join(work, "keys.json"), filepath.Join(work, "audit.jsonl")
	cli(t, srv, nil, "principal", "list")
	out := cli(t, srv, nil, "audit", "checkpoint", "--export", keysFile)
	if !strings.Contains(out, "checkpoint signed") {
		t.Fatalf("audit checkpoint printed %q", out)
	}
	cli(t, srv, nil, "audit", "checkpoint", "--rotate-key", "--export", keysFile)
	cli(t, srv, nil, "audit", "export", "--out", logFile)
	exported, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(exported), `{"checkpoint"`); n != 2 {
		t.Fatalf("the export holds %d checkpoints, want 2", n)
	}
	keys, err := os.ReadFile(keysFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(keys), "PRIVATE") {
		t.Fatalf("the exported keyset holds a private key")
	}
	// Offline: a server URL that answers nothing, so any call would fail.
	offline := testServer{url: "http://127.0.0.1:1", dir: t.TempDir()}
	out = cli(t, offline, nil, "audit", "verify", "--public-keyset", keysFile, "--log", logFile, "--checkpoints", sink)
	if !strings.Contains(out, "export verified offline") {
		t.Fatalf("offline verify printed %q", out)
	}
	edited := strings.Replace(string(exported), `"principal":"admin"`, `"principal":"nobody"`, 1)
	if edited == string(exported) {
		t.Fatal("found no record to edit")
	}
	if err := os.WriteFile(logFile, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = cliErr(t, offline, nil, "audit", "verify", "--public-keyset", keysFile, "--log", logFile)
	if err == nil || !strings.Contains(out, "chain-mismatch") {
		t.Fatalf("offline verify of an edited export = %q, %v; want a chain-mismatch and an error", out, err)
	}
}
