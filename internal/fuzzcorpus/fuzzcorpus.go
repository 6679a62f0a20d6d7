// Package fuzzcorpus gives native Go fuzz targets committed seed corpora.
//
// A fuzz target calls Add instead of f.Add for each seed. Normally that is
// all it does. With FV_WRITE_FUZZ_CORPUS=1 in the environment, Add also
// writes the seed as a file in the "go test fuzz v1" format under the
// package's testdata/fuzz/<target>/, named after a hash of its content, so
// that
//
//	FV_WRITE_FUZZ_CORPUS=1 go test ./arrowio -run '^Fuzz'
//
// (re)writes the committed corpus from the seeds the targets build: real
// Arrow IPC streams, Parquet files and rows made by the package's own
// writers, which go test then replays as tests forever, and which the
// fuzzer mutates first. It is for tests only and holds no secrets: seeds
// must never contain key material or tokens a real deployment uses.
package fuzzcorpus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// EnvWrite is the environment variable that makes Add write files.
const EnvWrite = "FV_WRITE_FUZZ_CORPUS"

// MaxFileBytes is the largest corpus file Add writes; a larger seed fails
// the target, to keep the repository small.
const MaxFileBytes = 64 << 10

// Add adds a seed to f, and writes it to testdata/fuzz/<f.Name()>/ when
// EnvWrite is set. The values must have the types of the fuzz function's
// arguments after *testing.T, as for f.Add.
func Add(f *testing.F, values ...any) {
	f.Helper()
	f.Add(values...)
	if os.Getenv(EnvWrite) == "" {
		return
	}
	data, err := Marshal(values...)
	if err != nil {
		f.Fatal(err)
	}
	if len(data) > MaxFileBytes {
		f.Fatalf("fuzzcorpus: a seed of %s is %d bytes encoded; keep seeds under %d", f.Name(), len(data), MaxFileBytes)
	}
	sum := sha256.Sum256(data)
	dir := filepath.Join("testdata", "fuzz", f.Name())
	if err := os.MkdirAll(dir, 0o750); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed-"+hex.EncodeToString(sum[:8])), data, 0o600); err != nil {
		f.Fatal(err)
	}
}

// Marshal encodes values as a "go test fuzz v1" corpus file, as the go
// command writes them.
func Marshal(values ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch x := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", x)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", x)
		case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			fmt.Fprintf(&b, "%T(%v)\n", x, x)
		case float64:
			if math.IsNaN(x) {
				fmt.Fprintf(&b, "math.Float64frombits(0x%x)\n", math.Float64bits(x))
			} else {
				fmt.Fprintf(&b, "float64(%v)\n", x)
			}
		case float32:
			if math.IsNaN(float64(x)) {
				fmt.Fprintf(&b, "math.Float32frombits(0x%x)\n", math.Float32bits(x))
			} else {
				fmt.Fprintf(&b, "float32(%v)\n", x)
			}
		default:
			return nil, fmt.Errorf("fuzzcorpus: cannot encode a %T; fuzz arguments are []byte, string, bool, integers and floats", v)
		}
	}
	return b.Bytes(), nil
}
