// Package repocheck holds the tests of scripts/check-repo.sh, the CI check
// that refuses a tracked binary, a tracked file over 1 MiB that is not
// listed as data in .ci/large-files, and a go.mod that `go mod tidy` would
// change. The tests build small bad trees in temporary git repositories and
// show that the script fails on each, and passes on a clean one.
package repocheck
