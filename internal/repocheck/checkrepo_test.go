package repocheck_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// script is the path of scripts/check-repo.sh from this package's folder.
func script(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "check-repo.sh")
}

// tree makes a git repository holding files (path -> content), all tracked.
func tree(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

const goMod = "module example.com/m\n\ngo 1.26\n"
const mainGo = "package main\n\nfunc main() {}\n"

func TestCheckRepo(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	elf := append([]byte{0x7f, 'E', 'L', 'F'}, make([]byte, 64)...)
	tests := []struct {
		name     string
		files    map[string][]byte
		wantFail string // "" means the check must pass
	}{
		{"clean tree passes", map[string][]byte{"go.mod": []byte(goMod), "main.go": []byte(mainGo)}, ""},
		{"tracked ELF binary refused", map[string][]byte{"go.mod": []byte(goMod), "main.go": []byte(mainGo), "fvbench": elf}, "tracked binary: fvbench"},
		{"large file refused", map[string][]byte{"go.mod": []byte(goMod), "main.go": []byte(mainGo), "dump.csv": big}, "tracked file over 1 MiB: dump.csv"},
		{"large file listed as data passes", map[string][]byte{"go.mod": []byte(goMod), "main.go": []byte(mainGo), "dump.csv": big, ".ci/large-files": []byte("# data\ndump.csv\n")}, ""},
		{"untidy go.mod refused", map[string][]byte{
			"go.mod":  []byte(goMod + "\nrequire github.com/google/go-cmp v0.7.0 // indirect\n"),
			"main.go": []byte(mainGo),
		}, "go.mod or go.sum is not tidy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := tree(t, tt.files)
			cmd := exec.Command("bash", script(t), dir)
			// The untidy case must not reach the network: the module is
			// already in the cache, and an unused requirement needs none.
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
			out, err := cmd.CombinedOutput()
			if tt.wantFail == "" {
				if err != nil {
					t.Fatalf("check failed on a good tree: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed on a bad tree; want a failure naming %q\n%s", tt.wantFail, out)
			}
			if !strings.Contains(string(out), tt.wantFail) {
				t.Errorf("output = %q, want it to contain %q", out, tt.wantFail)
			}
		})
	}
}
