package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvclient "github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/internal/pgtest"
	"github.com/featurevault/featurevault/keys/localkms"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// fleet is several servers sharing one PostgreSQL store: in-process servers
// (each with its own backend and caches, as separate processes have) and,
// where a test kills one, real processes.
type fleet struct {
	pg, kms string
	srv     []testServer
}

// startFleet starts n servers on a fresh database of the test PostgreSQL.
// They share the store and the (local, development) KMS root key; extra
// flags go to every server.
func startFleet(t *testing.T, n int, extra ...string) *fleet {
	t.Helper()
	f := &fleet{pg: pgtest.URL(t), kms: localkms.Prefix + filepath.Join(t.TempDir(), "kms", "root.json")}
	for i := range n {
		s, _ := startServer(t, t.TempDir(), append(f.flags(i), extra...)...)
		f.srv = append(f.srv, s)
	}
	return f
}

func (f *fleet) flags(i int) []string {
	return f.flagsFor(fmt.Sprintf("server-%d", i))
}

func (f *fleet) flagsFor(member string) []string {
	return []string{"--store", f.pg, "--kms", f.kms, "--member-id", member, "--cluster-lease", "2s", "--rate-limit", "0"}
}

// at returns server i as the bootstrap admin calls it: the first server
// wrote the admin token.
func (f *fleet) at(i int) testServer { return testServer{url: f.srv[i].url, dir: f.srv[0].dir} }

// process starts a server named member as a child process (the test
// binary re-executed as "featurevault serve", see TestMain) that the test
// can kill -9.
func (f *fleet) process(t *testing.T, member string) (testServer, *exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--log-level", "error"}, f.flagsFor(member)...)
	cmd := exec.Command(os.Args[0], "-test.run=^$") // #nosec G204 -- the test binary itself
	cmd.Env = append(os.Environ(), crashServeEnv+"="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
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
		return testServer{url: url, dir: f.srv[0].dir}, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("the server process printed no URL within 30s")
	}
	return testServer{}, nil
}

func (s testServer) clients(t *testing.T, token, purpose string) (featurevaultv1connect.FeatureServiceClient, featurevaultv1connect.AdminServiceClient) {
	auth := connect.WithInterceptors(fvclient.HeaderInterceptor(fvclient.Headers(token, purpose, false)))
	return featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, auth),
		featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, s.url, auth)
}

// getJSON runs "get -o json" for one entity and field and returns its line.
func getJSON(t *testing.T, s testServer, token, purpose, entity, field string) (onlineJSON, error) {
	t.Helper()
	args := []string{"--purpose", purpose, "get", "--view", "customer_profile", "--entity", entity, "--features", field, "-o", "json"}
	if token != "" {
		args = append([]string{"--token", token}, args...)
	}
	out, err := cliErr(t, s, nil, args...)
	if err != nil {
		return onlineJSON{}, err
	}
	var row onlineJSON
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &row); err != nil {
		t.Fatalf("get printed %q: %v", out, err)
	}
	return row, nil
}

func quickstartFleet(t *testing.T, n int) *fleet {
	t.Helper()
	f := startFleet(t, n)
	cli(t, f.at(0), nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	cli(t, f.at(0), nil, "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", filepath.Join(quickstart, "rows-customers.jsonl"))
	return f
}

// TestSharedStoreEveryServerServesEveryRPC writes through server A and
// reads through A, B and C with every kind of call: online reads, Arrow
// batches, a point-in-time join, a DP aggregate and admin calls.
func TestSharedStoreEveryServerServesEveryRPC(t *testing.T) {
	t.Parallel()
	f := quickstartFleet(t, 3)
	a := f.at(0)
	statsToken := createPrincipal(t, a, "stats_bot", "--role", "statistician", "--attr", "purpose=analytics")
	cli(t, a, nil, "policy", "grant", "statistician", "--action", "aggregate", "--on", "customer_profile.income", "--purpose", "analytics")
	cli(t, a, nil, "budget", "set", "stats_bot", "--epsilon", "10")
	admin := a.adminToken(t)
	var batchRows []int64
	for i := range 3 {
		s := f.at(i)
		name := fmt.Sprintf("server %c", 'A'+i)
		row, err := getJSON(t, s, "", "training", "c-42", "email")
		if err != nil || row.Features["email"].Value != "a@example.com" {
			t.Errorf("%s: GetOnlineFeatures c-42 email = %+v, %v; want a@example.com", name, row, err)
		}
		c := fvclient.New(nil, s.url, fvclient.WithToken(admin), fvclient.WithPurpose("training"))
		r, err := c.ReadBatches(t.Context(), "customer_profile", fvclient.Read{Features: []string{"age"}})
		if err != nil {
			t.Fatalf("%s: ReadBatches: %v", name, err)
		}
		var n int64
		for r.Next() {
			n += r.RecordBatch().NumRows()
		}
		if err := r.Err(); err != nil {
			t.Errorf("%s: ReadBatches: %v", name, err)
		}
		r.Release()
		batchRows = append(batchRows, n)

		h, err := c.GetHistoricalFeatures(t.Context(), entityRows(t, "c-42", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)), fvclient.Historical{Features: []string{"customer_profile:age"}})
		if err != nil {
			t.Fatalf("%s: GetHistoricalFeatures: %v", name, err)
		}
		var ages []int64
		for h.Next() {
			rec := h.RecordBatch()
			for j, fld := range rec.Schema().Fields() {
				if fld.Name == "age" {
					col := rec.Column(j).(*array.Int64)
					for k := range col.Len() {
						ages = append(ages, col.Value(k))
					}
				}
			}
		}
		if err := h.Err(); err != nil {
			t.Errorf("%s: GetHistoricalFeatures: %v", name, err)
		}
		h.Release()
		if len(ages) != 1 || ages[0] != 41 {
			t.Errorf("%s: GetHistoricalFeatures age of c-42 on 2026-10-01 = %v, want [41]", name, ages)
		}

		var agg struct {
			EpsilonSpent float64 `json:"epsilon_spent"`
			Remaining    float64 `json:"epsilon_remaining"`
		}
		out := cli(t, s, nil, "--token", statsToken, "--purpose", "analytics", "query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "mean", "--epsilon", "1", "-o", "json")
		if err := json.Unmarshal([]byte(out), &agg); err != nil {
			t.Fatal(err)
		}
		if want := float64(10 - (i + 1)); agg.EpsilonSpent != 1 || agg.Remaining != want {
			t.Errorf("%s: Aggregate spent %g, %g remaining; want 1 and %g (one ledger for all servers)", name, agg.EpsilonSpent, agg.Remaining, want)
		}
		if out := cli(t, s, nil, "views", "list"); !strings.Contains(out, "customer_profile") {
			t.Errorf("%s: views list = %q, want customer_profile", name, out)
		}
	}
	if batchRows[0] < 3 || batchRows[1] != batchRows[0] || batchRows[2] != batchRows[0] {
		t.Errorf("ReadBatches rows through A, B, C = %v; want the same, at least 3", batchRows)
	}
	verifyAudit(t, f)
}

func entityRows(t *testing.T, key string, at time.Time) array.RecordReader {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "customer_id", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(key)
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
	rec := b.NewRecordBatch()
	defer rec.Release()
	r, err := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// verifyAudit checks through every in-process server that the shared
// audit log is one intact chain.
func verifyAudit(t *testing.T, f *fleet) {
	t.Helper()
	for i := range f.srv {
		if out, err := cliErr(t, f.at(i), nil, "audit", "verify"); err != nil || !strings.Contains(out, "chain intact") {
			t.Errorf("audit verify through server %d: %q, %v; want an intact chain", i, out, err)
		}
	}
}

// TestSharedStoreChangesOnAAreInForceOnBAndCAtOnce warms the caches of B
// and C, then on A erases a subject, revokes a policy and revokes a
// principal: B and C must enforce each on their very next request.
func TestSharedStoreChangesOnAAreInForceOnBAndCAtOnce(t *testing.T) {
	t.Parallel()
	f := quickstartFleet(t, 3)
	a := f.at(0)
	reader := createPrincipal(t, a, "reader", "--role", "analyst", "--attr", "purpose=training")
	cli(t, a, nil, "policy", "grant", "analyst", "--action", "read", "--on", "customer_profile.*", "--purpose", "training")
	others := []testServer{f.at(1), f.at(2)}
	warm := func() {
		t.Helper()
		for i, s := range others {
			for _, tok := range []string{"", reader} {
				row, err := getJSON(t, s, tok, "training", "c-42", "email")
				if err != nil || row.Features["email"].Value != "a@example.com" {
					t.Fatalf("warming server %c: c-42 = %+v, %v", 'B'+i, row, err)
				}
			}
		}
	}
	// A subject with a long raw key and a marker value, to look for on disk.
	const markerKey, markerValue = "subject-7f3c9a1e5b-marker", "marker-5d2e8b40c1@example.com"
	cli(t, a, strings.NewReader(`{"entity": "`+markerKey+`", "values": {"email": "`+markerValue+`", "age": 7}}`+"\n"), "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-")
	if row, err := getJSON(t, others[0], "", "training", markerKey, "email"); err != nil || row.Features["email"].Value != markerValue {
		t.Fatalf("the marker row written on A reads %+v, %v on B", row, err)
	}
	warm()
	cli(t, a, nil, "erase", "--entity", "customer", "--key", "c-42")
	for i, s := range others {
		row, err := getJSON(t, s, "", "training", "c-42", "email")
		if err != nil || row.Features["email"].Status != "NOT_FOUND" || row.Features["email"].Value != nil {
			t.Errorf("server %c right after the erasure on A: c-42 = %+v, %v; want NOT_FOUND and no value", 'B'+i, row, err)
		}
	}
	// The subject written again on A gets a new subject key. B and C read
	// the new row only if they dropped the destroyed key from their caches
	// (a stale key cannot open the new ciphertexts): the erasure reached
	// their caches, not just the shared rows.
	const reborn = "after-erasure@example.net"
	cli(t, a, strings.NewReader(`{"entity": "c-42", "values": {"email": "`+reborn+`", "age": 43}}`+"\n"), "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-")
	for i, s := range others {
		if row, err := getJSON(t, s, "", "training", "c-42", "email"); err != nil || row.Features["email"].Value != reborn {
			t.Errorf("server %c after c-42 was written again on A: %+v, %v; want the new value (a cached key of the erased subject?)", 'B'+i, row, err)
		}
	}

	for i, s := range others { // warm the decision caches for c-7
		if row, err := getJSON(t, s, reader, "training", "c-7", "email"); err != nil || row.Features["email"].Value != "b@example.org" {
			t.Fatalf("server %c before the revoke: %+v, %v", 'B'+i, row, err)
		}
	}
	cli(t, a, nil, "policy", "revoke", "analyst", "--action", "read", "--on", "customer_profile.*", "--purpose", "training")
	for i, s := range others {
		row, err := getJSON(t, s, reader, "training", "c-7", "email")
		if err == nil && (row.Features["email"].Value != nil || row.Features["email"].Status != "DENIED") {
			t.Errorf("server %c right after the policy revoke on A: %+v; want DENIED and no value", 'B'+i, row)
		}
	}
	cli(t, a, nil, "policy", "grant", "analyst", "--action", "read", "--on", "customer_profile.*", "--purpose", "training")
	for i, s := range others {
		if row, err := getJSON(t, s, reader, "training", "c-7", "email"); err != nil || row.Features["email"].Value != "b@example.org" {
			t.Fatalf("server %c after the grant on A: %+v, %v; want the value", 'B'+i, row, err)
		}
	}
	// A role change on A: the principal loses the role that grants the read.
	second := createPrincipal(t, a, "second_reader", "--role", "analyst", "--attr", "purpose=training")
	for i, s := range others {
		if row, err := getJSON(t, s, second, "training", "c-7", "email"); err != nil || row.Features["email"].Value != "b@example.org" {
			t.Fatalf("server %c before the role change on A: %+v, %v; want the value", 'B'+i, row, err)
		}
	}
	cli(t, a, nil, "role", "unassign", "second_reader", "analyst")
	for i, s := range others {
		row, err := getJSON(t, s, second, "training", "c-7", "email")
		if err == nil && (row.Features["email"].Value != nil || row.Features["email"].Status != "DENIED") {
			t.Errorf("server %c right after the role unassign on A: %+v; want DENIED and no value", 'B'+i, row)
		}
	}
	cli(t, a, nil, "principal", "revoke", "reader")
	for i, s := range others {
		_, err := getJSON(t, s, reader, "training", "c-7", "email")
		if err == nil || !strings.Contains(err.Error(), "unauthenticated") {
			t.Errorf("server %c right after the principal revoke on A: err %v; want unauthenticated", 'B'+i, err)
		}
	}
	verifyAudit(t, f)
	tamperAudit(t, f)
	scanDataDir(t, []string{markerKey, markerValue, reborn, "a@example.com", "b@example.org", "old-address@example.com"})
}

// TestSharedStoreRateLimitHoldsAcrossServers gives three servers a
// fleet-wide burst of 30 requests (and next to no refill): a principal
// calling all three gets 30 answers in all, 10 from each, not 30 from
// each.
func TestSharedStoreRateLimitHoldsAcrossServers(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3, "--rate-limit", "0.0001", "--rate-burst", "30")
	token := createPrincipal(t, f.at(0), "caller", "--role", "analyst", "--attr", "purpose=training")
	// Every server counts the others at its next lease renewal (a fifth of
	// the 2 s lease); one whole lease is ample.
	time.Sleep(2 * time.Second)
	var answered, refused int
	for i := range f.srv {
		fc, _ := f.at(i).clients(t, token, "training")
		for range 15 {
			_, err := fc.GetOnlineFeatures(t.Context(), connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{}))
			switch {
			case connect.CodeOf(err) == connect.CodeResourceExhausted:
				refused++
				if !strings.Contains(err.Error(), "across 3 servers") {
					t.Errorf("server %c refused with %q; want it to name the fleet's 3 servers", 'A'+i, err)
				}
			default: // answered, or refused by something after the limiter
				answered++
			}
		}
	}
	if answered != 30 || refused != 15 {
		t.Errorf("45 calls spread over 3 servers with a fleet-wide burst of 30: %d passed the limiter, %d refused; want 30 and 15", answered, refused)
	}
}

// tamperAudit edits, deletes and reorders records of the shared audit log
// in the database, and checks that audit verify through B detects each.
func tamperAudit(t *testing.T, f *fleet) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, f.pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	type rec struct{ key, value []byte }
	var recs []rec
	rows, err := conn.Query(ctx, "SELECT key, value FROM fv_audit WHERE key >= 'a/' AND key < 'a0' ORDER BY key")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.key, &r.value); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if rows.Err() != nil || len(recs) < 6 {
		t.Fatalf("the audit table holds %d records (%v); want several", len(recs), rows.Err())
	}
	mid, next := recs[len(recs)/2], recs[len(recs)/2+1]
	restore := func() {
		for _, r := range []rec{mid, next} {
			if _, err := conn.Exec(ctx, "INSERT INTO fv_audit (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", r.key, r.value); err != nil {
				t.Fatal(err)
			}
		}
	}
	edited := append([]byte(nil), mid.value...)
	edited[len(edited)/2] ^= 1
	for _, tc := range []struct {
		name string
		sql  string
		args []any
	}{
		{"edited", "UPDATE fv_audit SET value = $2 WHERE key = $1", []any{mid.key, edited}},
		{"deleted", "DELETE FROM fv_audit WHERE key = $1", []any{mid.key}},
		{"reordered", "UPDATE fv_audit SET value = CASE WHEN key = $1 THEN $4::BYTEA ELSE $3::BYTEA END WHERE key IN ($1, $2)", []any{mid.key, next.key, mid.value, next.value}},
	} {
		if _, err := conn.Exec(ctx, tc.sql, tc.args...); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if out, err := cliErr(t, f.at(1), nil, "audit", "verify"); err == nil {
			t.Errorf("audit verify after a record was %s in the database: %q, no error; want it detected", tc.name, out)
		}
		restore()
	}
	verifyAudit(t, f)
}

// scanDataDir reads every file under the test PostgreSQL's data directory
// (after a checkpoint, so that tables are on disk as well as in the WAL)
// and fails on any of the plaintext markers.
func scanDataDir(t *testing.T, markers []string) {
	t.Helper()
	srv := pgtest.Get(t)
	conn, err := pgx.Connect(t.Context(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(t.Context())
	var files, bytes int
	err = filepath.Walk(srv.Dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil // files come and go while the server runs
		}
		data, err := os.ReadFile(path) // #nosec G304 -- the test server's own files
		if err != nil {
			return nil
		}
		files++
		bytes += len(data)
		for _, m := range markers {
			if strings.Contains(string(data), m) {
				t.Errorf("plaintext %q found in %s", m, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 || bytes < 1<<20 {
		t.Errorf("scanned %d files, %d bytes: the data directory scan saw too little", files, bytes)
	}
}

// TestSharedStoreBudgetIsNeverOverspent runs 60 concurrent DP queries over
// three servers against a budget with room for 10.
func TestSharedStoreBudgetIsNeverOverspent(t *testing.T) {
	t.Parallel()
	f := quickstartFleet(t, 3)
	a := f.at(0)
	token := createPrincipal(t, a, "stats_bot", "--role", "statistician", "--attr", "purpose=analytics")
	cli(t, a, nil, "policy", "grant", "statistician", "--action", "aggregate", "--on", "customer_profile.income", "--purpose", "analytics")
	cli(t, a, nil, "budget", "set", "stats_bot", "--epsilon", "1")
	var answered, refused atomic.Int32
	var wg sync.WaitGroup
	for q := range 60 {
		fs, _ := f.at(q%3).clients(t, token, "analytics")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := fs.Aggregate(t.Context(), connect.NewRequest(&fvv1.AggregateRequest{View: "customer_profile", Field: "income", Function: fvv1.AggregateFunction_AGGREGATE_FUNCTION_COUNT, Epsilon: 0.1}))
			switch {
			case err == nil:
				answered.Add(1)
			case connect.CodeOf(err) == connect.CodeResourceExhausted:
				refused.Add(1)
			default:
				t.Errorf("query %d: %v", q, err)
			}
		}()
	}
	wg.Wait()
	if n := answered.Load(); n > 10 || n < 1 {
		t.Errorf("%d of 60 queries answered against a budget for 10; want at most 10 (and some)", n)
	}
	if answered.Load()+refused.Load() != 60 {
		t.Errorf("%d answered + %d refused, want 60", answered.Load(), refused.Load())
	}
	out := cli(t, a, nil, "budget", "show", "stats_bot")
	if want := fmt.Sprintf("epsilon %g of 1 spent", float64(answered.Load())/10); !strings.Contains(out, want) {
		t.Errorf("budget show = %q; want %q (the ledger charged exactly the answered queries)", out, want)
	}
	verifyAudit(t, f)
}

// TestSharedStoreSurvivesKillingAServerDuringWrites writes through A, B and
// C while B's process is killed with SIGKILL and restarted, 10 times: A
// and C keep serving, and every acknowledged row reads back.
func TestSharedStoreSurvivesKillingAServerDuringWrites(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: starts and kills 10 server processes")
	}
	f := quickstartFleet(t, 2) // A and C; B is a process, killed and restarted
	admin := f.at(0).adminToken(t)
	type acked struct {
		key string
		age int64
	}
	var mu sync.Mutex
	var got []acked
	var seq atomic.Int64
	write := func(s testServer) error {
		fs, _ := s.clients(t, admin, "ingestion")
		n := seq.Add(1)
		key := fmt.Sprintf("k-%06d", n)
		_, err := fs.WriteFeatures(t.Context(), connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "customer_profile", Rows: []*fvv1.Row{{
			EntityKey: key, EventTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			Values: map[string]*fvv1.Value{"age": {Kind: &fvv1.Value_Int64Value{Int64Value: n}}},
		}}}))
		if err == nil {
			mu.Lock()
			got = append(got, acked{key, n})
			mu.Unlock()
		}
		return err
	}
	for cycle := range 10 {
		b, proc := f.process(t, fmt.Sprintf("b-%d", cycle))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, s := range []testServer{f.at(0), b, f.at(1)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					err := write(s)
					if err != nil && s.url != b.url {
						t.Errorf("cycle %d: a write through a surviving server failed: %v", cycle, err)
						return
					}
					if err != nil {
						time.Sleep(5 * time.Millisecond)
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+cycle*37%200) * time.Millisecond)
		if err := proc.Process.Signal(os.Kill); err != nil {
			t.Fatal(err)
		}
		_ = proc.Wait()
		time.Sleep(50 * time.Millisecond) // A and C write on with B dead
		close(stop)
		wg.Wait()
		if t.Failed() {
			return
		}
	}
	mu.Lock()
	rows := append([]acked(nil), got...)
	mu.Unlock()
	if len(rows) < 50 {
		t.Fatalf("only %d writes acknowledged over 10 cycles", len(rows))
	}
	for i, s := range []testServer{f.at(0), f.at(1)} {
		fs, _ := s.clients(t, admin, "training")
		for start := 0; start < len(rows); start += 200 {
			batch := rows[start:min(start+200, len(rows))]
			req := &fvv1.GetOnlineFeaturesRequest{View: "customer_profile", Features: []string{"age"}}
			for _, r := range batch {
				req.EntityKeys = append(req.EntityKeys, r.key)
			}
			resp, err := fs.GetOnlineFeatures(t.Context(), connect.NewRequest(req))
			if err != nil {
				t.Fatal(err)
			}
			for j, row := range resp.Msg.GetRows() {
				if v := row.GetValues()[0].GetInt64Value(); v != batch[j].age {
					t.Errorf("server %c: acknowledged row %s reads age %d, want %d", 'A'+2*i, batch[j].key, v, batch[j].age)
				}
			}
		}
	}
	verifyAudit(t, f)
}

// TestSharedStoreRewrapResumesOnAnotherServer rotates the KEK and re-wraps
// on A (a process) while B and C serve reads and writes, kills A during
// the rewrap, and finishes it on C: every row reads back, and every key is
// wrapped by the new version.
func TestSharedStoreRewrapResumesOnAnotherServer(t *testing.T) {
	t.Parallel()
	f := quickstartFleet(t, 2) // B and C; A is a process, killed mid-rewrap
	admin := f.at(0).adminToken(t)
	b, c := f.at(0), f.at(1)
	var lines strings.Builder
	const subjects = 1500
	for i := range subjects {
		fmt.Fprintf(&lines, `{"entity": "r-%04d", "event_time": "2026-01-01T00:00:00Z", "values": {"age": %d}}`+"\n", i, i)
	}
	cli(t, b, strings.NewReader(lines.String()), "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-")
	a, proc := f.process(t, "a")
	_, adminA := a.clients(t, admin, "")
	if _, err := adminA.RotateKEK(t.Context(), connect.NewRequest(&fvv1.RotateKEKRequest{})); err != nil {
		t.Fatal(err)
	}
	// B and C serve reads and writes throughout.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served atomic.Int64
	for _, s := range []testServer{b, c} {
		fs, _ := s.clients(t, admin, "training")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("r-%04d", n%subjects)
				resp, err := fs.GetOnlineFeatures(t.Context(), connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "customer_profile", EntityKeys: []string{key}, Features: []string{"age"}}))
				if err != nil {
					t.Errorf("read during the rewrap: %v", err)
					return
				}
				if v := resp.Msg.GetRows()[0].GetValues()[0].GetInt64Value(); v != int64(n%subjects) {
					t.Errorf("read during the rewrap: %s age = %d, want %d", key, v, n%subjects)
					return
				}
				if _, err := fs.WriteFeatures(t.Context(), connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "customer_profile", Rows: []*fvv1.Row{{
					EntityKey: fmt.Sprintf("w-%d-%p", n, fs), Values: map[string]*fvv1.Value{"age": {Kind: &fvv1.Value_Int64Value{Int64Value: 1}}},
				}}})); err != nil {
					t.Errorf("write during the rewrap: %v", err)
					return
				}
				served.Add(1)
			}
		}()
	}
	stream, err := adminA.RewrapKeys(t.Context(), connect.NewRequest(&fvv1.RewrapKeysRequest{BatchSize: 10}))
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	for stream.Receive() {
		if m := stream.Msg(); m.GetDone() > 0 && !m.GetFinished() {
			_ = proc.Process.Signal(os.Kill)
			_ = proc.Wait()
			killed = true
			break
		}
	}
	_ = stream.Close()
	if !killed {
		t.Fatalf("the rewrap on A finished before it could be killed (%v)", stream.Err())
	}
	var resp *fvv1.RewrapKeysResponse
	_, adminC := c.clients(t, admin, "")
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := adminC.RewrapKeys(t.Context(), connect.NewRequest(&fvv1.RewrapKeysRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		for s.Receive() {
			resp = s.Msg()
		}
		err = s.Err()
		_ = s.Close()
		if err == nil {
			break
		}
		// A's lock goes with its connections, which the kernel closes.
		if connect.CodeOf(err) != connect.CodeAborted || time.Now().After(deadline) {
			t.Fatalf("rewrap on C: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if resp == nil || !resp.GetFinished() || resp.GetFailed() != 0 {
		t.Fatalf("rewrap on C ended with %+v; want finished, none failed", resp)
	}
	status, err := adminC.GetKeyStatus(t.Context(), connect.NewRequest(&fvv1.GetKeyStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if vs := status.Msg.GetVersions(); len(vs) != 2 || status.Msg.GetRewrap() != nil {
		t.Errorf("key status after the rewrap on C: %d versions, rewrap cursor %v; want 2 versions and no unfinished rewrap", len(vs), status.Msg.GetRewrap())
	}
	for _, v := range status.Msg.GetVersions() {
		if !v.GetPrimary() && v.GetSubjectKeys() != 0 {
			t.Errorf("after the rewrap on C, old KEK version %d still wraps %d subject keys", v.GetId(), v.GetSubjectKeys())
		}
	}
	if served.Load() == 0 {
		t.Error("B and C served nothing during the rewrap")
	}
	fs, _ := b.clients(t, admin, "training")
	for start := 0; start < subjects; start += 500 {
		req := &fvv1.GetOnlineFeaturesRequest{View: "customer_profile", Features: []string{"age"}}
		for i := start; i < start+500; i++ {
			req.EntityKeys = append(req.EntityKeys, fmt.Sprintf("r-%04d", i))
		}
		out, err := fs.GetOnlineFeatures(t.Context(), connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		for j, row := range out.Msg.GetRows() {
			if v := row.GetValues()[0].GetInt64Value(); v != int64(start+j) {
				t.Errorf("after the rewrap r-%04d reads %d, want %d", start+j, v, start+j)
			}
		}
	}
	verifyAudit(t, f)
}

// TestSharedStoreUnreachableDatabaseIsUnavailableThenRecovers cuts a
// server off the database: reads and writes fail with Unavailable, a
// write of several rows leaves none of them behind, and once the database
// is back the same server serves again without a restart.
func TestSharedStoreUnreachableDatabaseIsUnavailableThenRecovers(t *testing.T) {
	t.Parallel()
	f := quickstartFleet(t, 1)
	proxy, viaProxy := pgtest.NewProxy(t, f.pg)
	g := &fleet{pg: viaProxy, kms: f.kms}
	s, _ := startServer(t, t.TempDir(), g.flagsFor("cut-off")...)
	s.dir = f.srv[0].dir
	if row, err := getJSON(t, s, "", "training", "c-7", "email"); err != nil || row.Features["email"].Value != "b@example.org" {
		t.Fatalf("before the cut: %+v, %v", row, err)
	}
	proxy.Cut()
	rows := `{"entity": "cut-1", "values": {"age": 1}}` + "\n" + `{"entity": "cut-2", "values": {"age": 2}}` + "\n"
	if _, err := cliErr(t, s, strings.NewReader(rows), "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("put with the database unreachable: %v; want unavailable", err)
	}
	if _, err := getJSON(t, s, "", "training", "c-7", "email"); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("get with the database unreachable: %v; want unavailable", err)
	}
	health := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](http.DefaultClient, s.url+rpc.HealthCheckProcedure)
	status := func() healthpb.HealthCheckResponse_ServingStatus {
		resp, err := health.CallUnary(t.Context(), connect.NewRequest(&healthpb.HealthCheckRequest{}))
		if err != nil {
			t.Fatalf("health check: %v", err)
		}
		return resp.Msg.GetStatus()
	}
	for end := time.Now().Add(10 * time.Second); status() != healthpb.HealthCheckResponse_NOT_SERVING; {
		if time.Now().After(end) {
			t.Fatal("the health check still says SERVING 10s after the database became unreachable; want NOT_SERVING once the lease lapsed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	proxy.Restore()
	deadline := time.Now().Add(15 * time.Second)
	for {
		row, err := getJSON(t, s, "", "training", "c-7", "email")
		if err == nil && row.Features["email"].Value == "b@example.org" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15s after the database came back: %+v, %v; want the server serving again", row, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := status(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check after the recovery = %v, want SERVING", got)
	}
	for _, key := range []string{"cut-1", "cut-2"} {
		if row, err := getJSON(t, f.at(0), "", "training", key, "age"); err != nil || row.Features["age"].Status != "NOT_FOUND" {
			t.Errorf("%s after the refused put: %+v, %v; want NOT_FOUND (no partial write)", key, row, err)
		}
	}
	cli(t, s, strings.NewReader(rows), "put", "--purpose", "ingestion", "--view", "customer_profile", "-f", "-")
	if row, err := getJSON(t, f.at(0), "", "training", "cut-2", "age"); err != nil || row.Features["age"].Value != float64(2) {
		t.Errorf("cut-2 written after the recovery reads %+v, %v; want 2", row, err)
	}
	verifyAudit(t, f)
}

// TestSharedStoreConcurrentViewsOnEveryServer applies views through A, B
// and C at the same time: each view gets its own identity (a registry
// change runs on one server at a time), every server knows every view, and
// rows written to each through one server read back through another.
func TestSharedStoreConcurrentViewsOnEveryServer(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3)
	cli(t, f.at(0), nil, "apply", "-f", filepath.Join(quickstart, "spec.yaml"))
	const views = 9
	var wg sync.WaitGroup
	for i := range views {
		spec := fmt.Sprintf("feature_views:\n  - name: v%d\n    entity: customer\n    fields:\n      - {name: n, type: int64}\n", i)
		path := filepath.Join(t.TempDir(), "spec.yaml")
		if err := os.WriteFile(path, []byte(spec), 0o600); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cliErr(t, f.at(i%3), nil, "apply", "-f", path); err != nil {
				t.Errorf("apply v%d through server %d: %v", i, i%3, err)
			}
		}()
	}
	wg.Wait()
	for s := range 3 {
		out := cli(t, f.at(s), nil, "views", "list")
		for i := range views {
			if !strings.Contains(out, fmt.Sprintf("v%d", i)) {
				t.Errorf("server %d does not list v%d:\n%s", s, i, out)
			}
		}
	}
	for i := range views {
		row := fmt.Sprintf(`{"entity": "c-1", "values": {"n": %d}}`+"\n", 100+i)
		cli(t, f.at((i+1)%3), strings.NewReader(row), "put", "--purpose", "ingestion", "--view", fmt.Sprintf("v%d", i), "-f", "-")
	}
	for i := range views {
		out := cli(t, f.at((i+2)%3), nil, "get", "--purpose", "training", "--view", fmt.Sprintf("v%d", i), "--entity", "c-1", "-o", "json")
		var got onlineJSON
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); err != nil {
			t.Fatal(err)
		}
		if v := got.Features["n"].Value; v != float64(100+i) {
			t.Errorf("v%d: c-1 n = %v, want %d (a view's rows must stay its own)", i, v, 100+i)
		}
	}
	verifyAudit(t, f)
}
