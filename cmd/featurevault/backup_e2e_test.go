package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/backup"
)

// The backup tests run real servers on loopback and the real backup and
// restore commands on real files, as an operator would.

// getCustomers reads every feature of the quickstart's customers as JSON.
func getCustomers(t *testing.T, srv testServer) string {
	t.Helper()
	return cli(t, srv, nil, "get", "--purpose", "training", "--view", "customer_profile",
		"--entity", "c-42", "--entity", "c-7", "--entity", "c-1001", "-o", "json")
}

// readManifest reads and decodes DIR/manifest.json.
func readManifest(t *testing.T, dir string) backup.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, backup.ManifestFile))
	if err != nil {
		t.Fatalf("read the manifest: %v", err)
	}
	var m backup.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("the manifest is not JSON: %v", err)
	}
	return m
}

// copySecret copies a 0600 file from one data directory to another, as an
// operator restoring a store copies the local root key and keeps the
// admin token.
func copySecret(t *testing.T, from, to, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(to, name)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// restoreCLI runs "featurevault restore" (an offline command: no server).
func restoreCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := newRootCmd(noEnv)
	root.SetArgs(append([]string{"restore"}, args...))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(t.Context())
	return stdout.String(), err
}

// fileDigests maps every file under dir to its SHA-256, to show that a
// refused command changed nothing.
func fileDigests(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if os.IsNotExist(err) && path == dir {
			return filepath.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDigests(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBackupOfARunningServerRestoresTheSameValuesAndAVerifyingAuditChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, stopSrc := startServer(t, dir)
	cli(t, src, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, src, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	cli(t, src, nil, "put", "--purpose", "ingestion", "--view", "instrument_quotes", "-f", filepath.Join(quickstart, "rows-instruments.jsonl"))
	want := getCustomers(t, src)
	if !strings.Contains(want, `"a@example.com"`) || !strings.Contains(want, `"c@example.net"`) {
		t.Fatalf("get before the backup = %s; want the quickstart's values", want)
	}
	wantQuotes := cli(t, src, nil, "get", "--purpose", "training", "--view", "instrument_quotes", "--entity", "1", "--entity", "2", "--entity", "3", "-o", "json")

	out := filepath.Join(t.TempDir(), "backup")
	printed := cli(t, src, nil, "backup", "--out", out)
	for _, w := range []string{"data: ", "audit: ", "keystore: ", ", full, sha256 ", "wrote 3 parts and manifest.json to " + out, "DATA/kms/root.json"} {
		if !strings.Contains(printed, w) {
			t.Errorf("backup printed %q; want it to contain %q", printed, w)
		}
	}
	stopSrc()

	m := readManifest(t, out)
	if m.Format != backup.FormatVersion || !m.LocalKMS || m.KMSURI != "" || len(m.Parts) != 3 {
		t.Errorf("manifest: format %d, local KMS %v, KMS URI %q, %d parts; want format %d, local, no URI, 3 parts", m.Format, m.LocalKMS, m.KMSURI, len(m.Parts), backup.FormatVersion)
	}
	rootKey, err := os.ReadFile(filepath.Join(dir, "kms", "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range m.Parts {
		if wantPart := backup.Parts()[i]; a.Part != wantPart || a.Since != 0 || a.NextSince == 0 {
			t.Errorf("manifest part %d = %s since %d next %d; want %s, full, with a next since", i, a.Part, a.Since, a.NextSince, wantPart)
		}
		path := filepath.Join(out, a.File)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != a.SHA256 || uint64(len(b)) != a.Size {
			t.Errorf("%s: %d bytes with SHA-256 %s; the manifest says %d bytes, %s", a.File, len(b), got, a.Size, a.SHA256)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v; want 0600", a.File, st.Mode().Perm())
		}
		// A backup holds ciphertext, blind indexes and wrapped keys only.
		for _, secret := range []string{"a@example.com", "old-address@example.com", "c@example.net", "c-1001", string(rootKey)} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains %.20q in the clear", a.File, secret)
			}
		}
	}
	if st, err := os.Stat(filepath.Join(out, backup.ManifestFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("manifest mode %v; want 0600", st.Mode().Perm())
	}

	restored := filepath.Join(t.TempDir(), "restored")
	said, err := restoreCLI(t, "--from", out, "--data", restored)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, w := range []string{"restored data from 1 backups", "restored keystore from 1 backups", "restored audit from 1 backups", "copy the original kms/root.json to " + restored + "/kms/root.json"} {
		if !strings.Contains(said, w) {
			t.Errorf("restore printed %q; want it to contain %q", said, w)
		}
	}

	// Without the local root key, the restored store refuses to open.
	root := newRootCmd(noEnv)
	root.SetArgs([]string{"serve", "--data", restored, "--listen", "127.0.0.1:0", "--log-level", "error"})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := root.ExecuteContext(ctx); err == nil || !strings.Contains(err.Error(), "root.json") {
		t.Errorf("serve of a restored store without its root key: %v; want a refusal naming root.json", err)
	}

	copySecret(t, dir, restored, filepath.Join("kms", "root.json"))
	copySecret(t, dir, restored, "admin.token")
	dst, _ := startServer(t, restored)
	if got := getCustomers(t, dst); got != want {
		t.Errorf("customers after restore:\n%s\nwant exactly what was backed up:\n%s", got, want)
	}
	if got := cli(t, dst, nil, "get", "--purpose", "training", "--view", "instrument_quotes", "--entity", "1", "--entity", "2", "--entity", "3", "-o", "json"); got != wantQuotes {
		t.Errorf("quotes after restore:\n%s\nwant:\n%s", got, wantQuotes)
	}
	verified := cli(t, dst, nil, "audit", "verify")
	if !strings.HasPrefix(verified, "audit log verified: ") || !strings.Contains(verified, "chain intact") {
		t.Errorf("audit verify of the restored log printed %q; want an intact chain", verified)
	}
	tail := cli(t, dst, nil, "audit", "tail", "-n", "200", "-o", "json")
	if !strings.Contains(tail, "admin:Backup") || !strings.Contains(tail, "back up the data part") {
		t.Errorf("the restored audit log holds no record of the backup itself:\n%s", tail)
	}
}

// TestRestoringOldDataWithANewerKeystoreLeavesErasedSubjectsUnreadable is
// crypto-shredding across backups: the data backup taken before an erasure
// still holds the subject's ciphertext, but a keystore backup taken after
// it no longer holds the key, so the restored subject reads as not found
// while every other subject reads as before.
func TestRestoringOldDataWithANewerKeystoreLeavesErasedSubjectsUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, stopSrc := startServer(t, dir)
	cli(t, src, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, src, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	before := getCustomers(t, src)

	old := filepath.Join(t.TempDir(), "before-erasure")
	cli(t, src, nil, "backup", "--out", old)
	cli(t, src, nil, "erase", "--entity", "customer", "--key", "c-42")
	keys := filepath.Join(t.TempDir(), "keystore-after-erasure")
	cli(t, src, nil, "backup", "--out", keys, "--part", "keystore")
	stopSrc()
	if m := readManifest(t, keys); len(m.Parts) != 1 || m.Parts[0].Part != backup.PartKeystore {
		t.Fatalf("backup --part keystore wrote parts %+v; want the keystore only", m.Parts)
	}

	mixed := filepath.Join(t.TempDir(), "mixed")
	if _, err := restoreCLI(t, "--from", old, "--data", mixed, "--part", "data,audit"); err != nil {
		t.Fatalf("restore the old data: %v", err)
	}
	if _, err := restoreCLI(t, "--from", keys, "--data", mixed, "--part", "keystore"); err != nil {
		t.Fatalf("restore the newer keystore beside it: %v", err)
	}
	copySecret(t, dir, mixed, filepath.Join("kms", "root.json"))
	copySecret(t, dir, mixed, "admin.token")
	srv, stop := startServer(t, mixed)
	got := decodeOnline(t, getCustomers(t, srv))
	stop()
	want := decodeOnline(t, before)
	if f := got["c-42"].Features; f["email"].Status != "NOT_FOUND" || f["email"].Value != nil || f["income"].Status != "NOT_FOUND" {
		t.Errorf("erased c-42 from old data + newer keystore = %+v; want every feature NOT_FOUND with no value", f)
	}
	for _, k := range []string{"c-7", "c-1001"} {
		if g, w := jsonOf(t, got[k]), jsonOf(t, want[k]); g != w {
			t.Errorf("%s from old data + newer keystore = %s; want %s as before the erasure", k, g, w)
		}
	}

	// The control: the old data with the keystore of the same backup still
	// decrypts c-42, so the ciphertext was in the data backup all along and
	// only the key's destruction hides it.
	control := filepath.Join(t.TempDir(), "control")
	if _, err := restoreCLI(t, "--from", old, "--data", control); err != nil {
		t.Fatalf("restore the old backup whole: %v", err)
	}
	copySecret(t, dir, control, filepath.Join("kms", "root.json"))
	copySecret(t, dir, control, "admin.token")
	ctl, _ := startServer(t, control)
	if g, w := jsonOf(t, decodeOnline(t, getCustomers(t, ctl))["c-42"]), jsonOf(t, want["c-42"]); g != w || !strings.Contains(g, "a@example.com") {
		t.Errorf("c-42 from the old backup with its own keystore = %s; want %s", g, w)
	}
}

// decodeOnline decodes "get -o json" lines by entity.
func decodeOnline(t *testing.T, text string) map[string]onlineJSON {
	t.Helper()
	out := map[string]onlineJSON{}
	for line := range strings.Lines(text) {
		var o onlineJSON
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("get printed %q, not JSON: %v", line, err)
		}
		out[o.Entity] = o
	}
	return out
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIncrementalBackupRestoresOnTopOfTheFullOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, stopSrc := startServer(t, dir)
	cli(t, src, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, src, nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	full := filepath.Join(t.TempDir(), "full")
	cli(t, src, nil, "backup", "--out", full)

	cli(t, src, strings.NewReader(`{"entity": "c-7", "event_time": "2026-10-01T00:00:00Z", "values": {"email": "new@example.org", "age": 30}}`+"\n"),
		"put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-")
	cli(t, src, nil, "erase", "--entity", "customer", "--key", "c-1001")
	want := getCustomers(t, src)
	incr := filepath.Join(t.TempDir(), "incr")
	printed := cli(t, src, nil, "backup", "--out", incr, "--since", full)
	stopSrc()
	if !strings.Contains(printed, "incremental after version ") {
		t.Errorf("backup --since printed %q; want incremental parts", printed)
	}
	fm, im := readManifest(t, full), readManifest(t, incr)
	for i, a := range im.Parts {
		f := fm.Parts[i]
		if a.Part != f.Part || a.Since != f.NextSince || a.NextSince <= a.Since {
			t.Errorf("incremental %s: since %d, next %d; want since the full backup's next %d and a later next", a.Part, a.Since, a.NextSince, f.NextSince)
		}
		if a.Part == backup.PartData && a.Size >= f.Size {
			t.Errorf("incremental data is %d bytes, the full one %d; want only the changes", a.Size, f.Size)
		}
	}

	if _, err := restoreCLI(t, "--from", incr, "--data", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "not a full one") {
		t.Errorf("restore of an incremental backup alone: %v; want a refusal asking for the full one first", err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	said, err := restoreCLI(t, "--from", full, "--from", incr, "--data", restored)
	if err != nil {
		t.Fatalf("restore full + incremental: %v", err)
	}
	if !strings.Contains(said, "restored data from 2 backups") {
		t.Errorf("restore printed %q; want data from 2 backups", said)
	}
	copySecret(t, dir, restored, filepath.Join("kms", "root.json"))
	copySecret(t, dir, restored, "admin.token")
	dst, _ := startServer(t, restored)
	got := getCustomers(t, dst)
	if got != want {
		t.Errorf("customers after full + incremental restore:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(got, "new@example.org") || !strings.Contains(got, `"c-1001","event_time":null`) {
		t.Errorf("restored store lacks the write or the erasure made after the full backup:\n%s", got)
	}
	if v := cli(t, dst, nil, "audit", "verify"); !strings.Contains(v, "chain intact") {
		t.Errorf("audit verify after full + incremental restore: %q", v)
	}
}

func TestBackupAndRestoreRefuseBadInputAndChangeNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, _ := startServer(t, dir)
	cli(t, srv, nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	good := filepath.Join(t.TempDir(), "good")
	cli(t, srv, nil, "backup", "--out", good)
	goodFiles := fileDigests(t, good)

	// damaged is a copy of the good backup with one byte of the data
	// artifact flipped.
	damaged := filepath.Join(t.TempDir(), "damaged")
	if err := os.CopyFS(damaged, os.DirFS(good)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(damaged, "data.fvbackup"))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(filepath.Join(damaged, "data.fvbackup"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	notEmpty := filepath.Join(t.TempDir(), "busy")
	if err := os.MkdirAll(filepath.Join(notEmpty, "keystore"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notEmpty, "keystore", "000001.vlog"), []byte("someone's keys"), 0o600); err != nil {
		t.Fatal(err)
	}

	analyst := createPrincipal(t, srv, "nightly_job", "--role", "backup_job")
	restoreTests := []struct {
		name    string
		args    func(target string) []string
		target  string // "" for a fresh directory
		wantMsg string
	}{
		{"checksum mismatch", func(tg string) []string { return []string{"--from", damaged, "--data", tg} }, "", "restore from another backup: " + filepath.Join(damaged, "data.fvbackup")},
		{"missing manifest", func(tg string) []string { return []string{"--from", t.TempDir(), "--data", tg} }, "", "no manifest.json"},
		{"target not empty", func(tg string) []string { return []string{"--from", good, "--data", tg} }, notEmpty, "target directory is not empty"},
		{"unknown part", func(tg string) []string { return []string{"--from", good, "--data", tg, "--part", "data,keys"} }, "", `unknown part; use data, keystore or audit, not "keys"`},
	}
	// The subtests run in turn: the grant below must come after them.
	for _, tt := range restoreTests {
		t.Run("restore: "+tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = filepath.Join(t.TempDir(), "restored")
			}
			before := fileDigests(t, target)
			_, err := restoreCLI(t, tt.args(target)...)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("restore %s: err %v; want one containing %q", tt.name, err, tt.wantMsg)
			}
			if after := fileDigests(t, target); !sameDigests(before, after) {
				t.Errorf("a refused restore changed the target: %d files before, %d after", len(before), len(after))
			}
			if tt.target == "" {
				if _, err := os.Stat(target); !os.IsNotExist(err) {
					t.Errorf("a refused restore created %s", target)
				}
			}
		})
	}

	backupTests := []struct {
		name    string
		args    []string
		out     string
		wantMsg string
	}{
		{"unknown part", []string{"--part", "data,keys"}, "", `unknown part; use data, keystore or audit, not "keys"`},
		{"output already holds a backup", nil, good, "already holds a backup"},
		{"since names no backup", []string{"--since", t.TempDir()}, "", "no manifest.json"},
		{"principal without the backup action", []string{"--token", analyst}, "", "the backup action is not granted"},
	}
	for _, tt := range backupTests {
		t.Run("backup: "+tt.name, func(t *testing.T) {
			out := tt.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "out")
			}
			before := fileDigests(t, out)
			_, err := cliErr(t, srv, nil, append([]string{"backup", "--out", out}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("backup %s: err %v; want one containing %q", tt.name, err, tt.wantMsg)
			}
			if after := fileDigests(t, out); !sameDigests(before, after) {
				t.Errorf("a refused backup changed %s: %v before, %v after", out, before, after)
			}
			if tt.out == "" {
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("a refused backup left %s behind", out)
				}
			}
		})
	}
	if got := fileDigests(t, good); !sameDigests(got, goodFiles) {
		t.Errorf("the good backup changed during the refused commands")
	}

	// Granted the backup action, the same principal backs up; it is still
	// no admin.
	cli(t, srv, nil, "policy", "grant", "backup_job", "--action", "backup", "--on", "*")
	job := filepath.Join(t.TempDir(), "job")
	if out := cli(t, srv, nil, "--token", analyst, "backup", "--out", job, "--part", "keystore"); !strings.Contains(out, "keystore: ") {
		t.Errorf("backup by a principal granted backup printed %q", out)
	}
	if _, err := cliErr(t, srv, nil, "--token", analyst, "principal", "list"); err == nil || !strings.Contains(err.Error(), "permission_denied") {
		t.Errorf("principal list by the backup job: %v; want permission_denied (backup is not admin)", err)
	}
	if _, err := cliErr(t, srv, nil, "policy", "grant", "backup_job", "--action", "backup", "--on", "customer_profile.*"); err == nil || !strings.Contains(err.Error(), "give it on *") {
		t.Errorf("grant of backup on a view: %v; want a refusal saying backup is given on *", err)
	}
	tail := cli(t, srv, nil, "audit", "tail", "-n", "50", "-o", "json")
	if !strings.Contains(tail, `"principal":"nightly_job"`) || !strings.Contains(tail, "PermissionDenied") && !strings.Contains(tail, "permission_denied") {
		t.Errorf("the audit log does not record the refused backup by nightly_job:\n%s", tail)
	}
}
