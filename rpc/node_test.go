package rpc

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/featurevault/featurevault/client"
)

// nodeExample is the Node.js client example, relative to this package.
var nodeExample = filepath.Join("..", "examples", "node")

// TestNodeClientReadsTheSameStream runs examples/node/read.mjs — Connect
// for Node.js and apache-arrow's RecordBatchReader, an Arrow
// implementation independent of arrow-go — against ReadBatches, and checks
// it reads every row and value the Go client reads. It needs node on PATH
// and the example's dependencies (cd examples/node && npm ci); without
// them it is skipped.
func TestNodeClientReadsTheSameStream(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(nodeExample, "node_modules", "apache-arrow")); err != nil {
		t.Skip("examples/node has no node_modules; run npm ci there to enable this test")
	}
	env := newArrowEnv(t, nil)
	if _, err := env.store.Write(t.Context(), "profile", profileRows(300, "node")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), node, "read.mjs", "--server", env.url, "--view", "profile", "--rows")
	cmd.Dir = nodeExample
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node read.mjs: %v\n%s", err, stderr.String())
	}
	var got []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("node printed %q, not a JSON row: %v", sc.Text(), err)
		}
		got = append(got, row)
	}

	r, err := env.client.ReadBatches(t.Context(), "profile", client.Read{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var want []map[string]any
	for _, row := range tableRows(t, r) {
		want = append(want, nodeForm(t, row))
	}
	byKey := func(a, b map[string]any) int {
		return cmp.Or(strings.Compare(a["customer_id"].(string), b["customer_id"].(string)), strings.Compare(a["event_timestamp"].(string), b["event_timestamp"].(string)))
	}
	slices.SortFunc(got, byKey)
	slices.SortFunc(want, byKey)
	if len(got) != len(want) {
		t.Fatalf("node read %d rows, Go %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d differs:\nnode %v\n  Go %v", i, got[i], want[i])
		}
	}
}

// nodeForm writes a row as read.mjs --rows prints it, decoded by
// encoding/json: int64 and timestamps (nanoseconds) as decimal strings,
// bytes as base64, numbers as float64.
func nodeForm(t *testing.T, row map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range row {
		switch v := v.(type) {
		case nil:
			out[k] = nil
		case bool, string:
			out[k] = v
		case int64:
			out[k] = fmt.Sprint(v)
		case float64:
			out[k] = v
		case []byte:
			out[k] = base64.StdEncoding.EncodeToString(v)
		case time.Time:
			out[k] = fmt.Sprint(v.UnixNano())
		case []float32:
			l := make([]any, len(v))
			for i, x := range v {
				l[i] = float64(x)
			}
			out[k] = l
		default:
			t.Fatalf("column %s: unexpected %T", k, v)
		}
	}
	return out
}
