// Package pytests runs the Python package's pytest suite (python/tests)
// as part of `go test ./...`, so that the README's one test command
// covers the Python client and the Arrow Flight service it talks to.
//
// The suite needs a Python environment with the package and its test
// dependencies: .tmp/pyvenv at the repository root, which .ci/run
// creates (`python3 -m venv .tmp/pyvenv && .tmp/pyvenv/bin/pip install
// './python[test,torch]'`). Without it the test skips with a message
// saying how to create it, except when the environment variable CI is
// set: there a missing environment is a failure.
package pytests
