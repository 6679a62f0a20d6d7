package pytests

import (
	"os"
	"os/exec"
	"path/filepath"
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
	cmd := exec.CommandContext(t.Context(), py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests") // #nosec G204 -- the repository's own test environment
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pytest python/tests failed: %v\n%s", err, out)
	}
	t.Logf("pytest python/tests:\n%s", out)
}
