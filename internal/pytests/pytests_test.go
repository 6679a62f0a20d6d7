package pytests

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// venvPython is the interpreter of the test environment, relative to the
// repository root.
const venvPython = ".tmp/pyvenv/bin/python"

func TestPythonPackageSuite(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(root, venvPython)
	if _, err := os.Stat(py); err != nil {
		msg := "no Python test environment at " + venvPython + ": create it with `python3 -m venv .tmp/pyvenv && .tmp/pyvenv/bin/pip install './python[test,torch]'` to run the Python client's tests"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so this is a failure)")
		}
		t.Skip("SKIPPING: " + msg)
	}
	if testing.Short() {
		t.Skip("SKIPPING the pytest suite in -short mode")
	}
	touchSources(t, root)
	cmd := exec.CommandContext(t.Context(), py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests") // #nosec G204 -- the repository's own test environment
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest python/tests failed: %v\n%s", err, out)
	}
	t.Logf("pytest python/tests:\n%s", out)
}

// touchSources opens every source file the suite depends on: the Python
// package, its tests and example, and the Go code of the server it
// builds. go test caches a passing result until a file the test opened
// changes; files only the pytest subprocess reads would not count, and a
// stale "ok" would hide a broken client or server.
func touchSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "featurevault-data" || name == "build") {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(name) {
		case ".go", ".py", ".toml", ".yaml", ".csv", ".proto", ".mod", ".sum":
			f, err := os.Open(path) // #nosec G304 -- the repository's own files
			if err != nil {
				return err
			}
			return f.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list the sources: %v", err)
	}
}
