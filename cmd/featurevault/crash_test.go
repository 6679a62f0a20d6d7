package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvclient "github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/pgtest"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// crashServeEnv, when set, makes the test binary run "featurevault serve"
// with the arguments in it instead of the tests: the crash test's server
// is a real process it can kill.
const crashServeEnv = "FEATUREVAULT_CRASH_TEST_SERVE"

func TestMain(m *testing.M) {
	if args := os.Getenv(crashServeEnv); args != "" {
		root := newRootCmd(func(string) string { return "" })
		root.SetArgs(strings.Split(args, "\x1f"))
		if err := root.ExecuteContext(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "featurevault:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	pgtest.Main(m) // stops the shared-store tests' PostgreSQL, if one started
}

// crashServer starts the server as a child process on dir and returns its
// URL and the process.
func crashServer(t *testing.T, dir string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashServeEnv+"="+strings.Join([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "error", "--rate-limit", "0"}, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "featurevault serving on "); ok {
				urls <- url
			}
		}
	}()
	select {
	case url := <-urls:
		return url, cmd
	case <-time.After(30 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine's stack:
		// where the start hung.
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_ = cmd.Wait()
		t.Fatalf("the server process printed no URL within 30s; the end of its stderr after SIGQUIT:\n%s", stderr.String())
	}
	return "", nil
}

// tailBuffer keeps the last 64 KiB written to it: a child process's
// stderr, for a test's failure message.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - 64<<10; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// TestAcknowledgedWritesSurviveSIGKILL kills the server process with
// SIGKILL while writers are busy, 20 times, restarting it on the same data
// directory each time. Every write the server acknowledged must be there
// afterwards and decrypt to what was written; a write that was not
// acknowledged is all there or not at all (each request is atomic).
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the crash test starts and kills 20 server processes")
	}
	dir := t.TempDir()
	const cycles, rowsPerBatch = 20, 20
	type batch struct {
		id    int
		acked bool
	}
	var (
		mu      sync.Mutex
		batches []batch
	)
	age := func(batchID, row int) int64 { return int64(batchID*1000 + row) }
	key := func(batchID, row int) string { return fmt.Sprintf("b%05d-r%02d", batchID, row) }
	next := 0
	rng := rand.New(rand.NewPCG(1, 2))
	// The last round only restarts and checks what the last kill left.
	for cycle := range cycles + 1 {
		url, proc := crashServer(t, dir)
		token, err := os.ReadFile(filepath.Join(dir, "admin.token"))
		if err != nil {
			proc.Process.Kill()
			t.Fatal(err)
		}
		auth := connect.WithInterceptors(fvclient.HeaderInterceptor(fvclient.Headers(strings.TrimSpace(string(token)), "ingestion", false)))
		fs := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, url, auth)
		admin := featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, url, auth)
		ctx := context.Background()
		if cycle == 0 {
			if _, err := admin.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{Name: "customer", JoinKey: "customer_id"}})); err != nil {
				t.Fatal(err)
			}
			view := &fvv1.FeatureView{Name: "profile", Entity: "customer", Fields: []*fvv1.Field{{Name: "age", Type: fvv1.FieldType_FIELD_TYPE_INT64}}}
			if _, err := admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: view})); err != nil {
				t.Fatal(err)
			}
		}
		// Check everything written so far, then write until killed.
		mu.Lock()
		checkBatches := append([]batch(nil), batches...)
		mu.Unlock()
		for _, b := range checkBatches {
			keys := make([]string, rowsPerBatch)
			for r := range keys {
				keys[r] = key(b.id, r)
			}
			res, err := fs.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: keys}))
			if err != nil {
				proc.Process.Kill()
				t.Fatalf("cycle %d: read of batch %d: %v", cycle, b.id, err)
			}
			present := 0
			for r, row := range res.Msg.Rows {
				if row.Statuses[0] == fvv1.FieldStatus_FIELD_STATUS_PRESENT {
					present++
					if got := row.Values[0].GetInt64Value(); got != age(b.id, r) {
						t.Errorf("cycle %d: batch %d row %d reads %d, want %d", cycle, b.id, r, got, age(b.id, r))
					}
				}
			}
			if b.acked && present != rowsPerBatch {
				t.Errorf("cycle %d: acknowledged batch %d has %d of %d rows", cycle, b.id, present, rowsPerBatch)
			}
			if present != 0 && present != rowsPerBatch {
				t.Errorf("cycle %d: batch %d is half-written: %d of %d rows", cycle, b.id, present, rowsPerBatch)
			}
		}
		if cycle == cycles {
			proc.Process.Kill()
			_ = proc.Wait()
			break
		}
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					id := next
					next++
					batches = append(batches, batch{id: id})
					mu.Unlock()
					rows := make([]*fvv1.Row, rowsPerBatch)
					for r := range rows {
						rows[r] = &fvv1.Row{EntityKey: key(id, r), EventTime: timestamppb.New(time.Unix(int64(id), 0)),
							Values: map[string]*fvv1.Value{"age": {Kind: &fvv1.Value_Int64Value{Int64Value: age(id, r)}}}}
					}
					_, err := fs.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: rows}))
					if err != nil {
						return // the server was killed
					}
					mu.Lock()
					batches[id].acked = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = proc.Wait()
		wg.Wait()
	}
	acked := 0
	for _, b := range batches {
		if b.acked {
			acked++
		}
	}
	if acked < cycles {
		t.Fatalf("only %d batches were acknowledged over %d cycles: the test exercised nothing", acked, cycles)
	}
	t.Logf("%d kill cycles, %d batches acknowledged, %d in flight at a kill", cycles, acked, len(batches)-acked)
}
