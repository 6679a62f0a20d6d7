package main

import (
	"context"
	"errors"
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
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// Sizes of the rewrap crash test. rewrapSubjects is chosen so that a
// rewrap in batches of rewrapBatch takes a good fraction of a second on a
// laptop (the test logs what it measured): long enough to be killed in
// the middle, short enough for 20 cycles to fit in well under a minute.
const (
	rewrapSubjects = 12_000
	rewrapBatch    = 32
	rewrapCycles   = 20
	readChunk      = 500 // entity keys per GetOnlineFeatures call
)

// rewrapKillMode is what a cycle of the rewrap crash test is doing when it
// kills the server.
type rewrapKillMode int

const (
	killMidRotation      rewrapKillMode = iota // RotateKEK in flight, writers busy
	killMidRewrap                              // rotate, then kill the rewrap stream's server
	killMidRewrapWrites                        // the same with writers busy
	killMidResumedRewrap                       // no rotation: resume the interrupted rewrap, writers busy
	rewrapKillModes
)

func (m rewrapKillMode) String() string {
	return [...]string{"mid-rotation", "mid-rewrap", "mid-rewrap with writes", "mid-resumed-rewrap"}[m]
}

// subjectBatch is a range [lo, hi) of subjects written in one
// WriteFeatures call, and whether the server acknowledged it.
type subjectBatch struct {
	lo, hi int
	acked  bool
}

// subjectLedger is what the rewrap crash test wrote: every batch it sent,
// acknowledged or not. Subject i has the row age = subjectAge(i).
type subjectLedger struct {
	mu      sync.Mutex
	batches []subjectBatch
	next    int // the next subject number
}

func subjectKey(i int) string { return fmt.Sprintf("s%06d", i) }
func subjectAge(i int) int64  { return int64(i)*7 + 1 }

// claim records a batch of the next n subjects and returns its number.
func (l *subjectLedger) claim(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, subjectBatch{lo: l.next, hi: l.next + n})
	l.next += n
	return len(l.batches) - 1
}

func (l *subjectLedger) ack(b int) {
	l.mu.Lock()
	l.batches[b].acked = true
	l.mu.Unlock()
}

func (l *subjectLedger) snapshot() ([]subjectBatch, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]subjectBatch(nil), l.batches...), l.next
}

// write sends the subjects of batch b (claimed by claim) and acknowledges
// it when the server does.
func (l *subjectLedger) write(ctx context.Context, fs featurevaultv1connect.FeatureServiceClient, b int) error {
	l.mu.Lock()
	sb := l.batches[b]
	l.mu.Unlock()
	rows := make([]*fvv1.Row, 0, sb.hi-sb.lo)
	for i := sb.lo; i < sb.hi; i++ {
		rows = append(rows, &fvv1.Row{EntityKey: subjectKey(i), EventTime: timestamppb.New(time.Unix(1_700_000_000, 0)),
			Values: map[string]*fvv1.Value{"age": {Kind: &fvv1.Value_Int64Value{Int64Value: subjectAge(i)}}}})
	}
	if _, err := fs.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: rows})); err != nil {
		return err
	}
	l.ack(b)
	return nil
}

// crashClients connects to a crash-test server on dir as its admin.
func crashClients(t *testing.T, dir, url string) (featurevaultv1connect.FeatureServiceClient, featurevaultv1connect.AdminServiceClient) {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	auth := connect.WithInterceptors(fvclient.HeaderInterceptor(fvclient.Headers(strings.TrimSpace(string(token)), "ingestion", false)))
	return featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, url, auth),
		featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, url, auth)
}

// checkSubjects reads every subject the ledger names and checks that every
// acknowledged batch is all there and decrypts to what was written, and
// that no batch is half there. It returns the number of acknowledged
// subjects.
func checkSubjects(ctx context.Context, t *testing.T, label string, fs featurevaultv1connect.FeatureServiceClient, l *subjectLedger) int {
	t.Helper()
	batches, n := l.snapshot()
	present := make([]bool, n)
	for lo := 0; lo < n; lo += readChunk {
		keys := make([]string, 0, readChunk)
		for i := lo; i < min(lo+readChunk, n); i++ {
			keys = append(keys, subjectKey(i))
		}
		res, err := fs.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: keys}))
		if err != nil {
			t.Fatalf("%s: read of subjects %d..%d: %v", label, lo, lo+len(keys)-1, err)
		}
		if len(res.Msg.Rows) != len(keys) {
			t.Fatalf("%s: read of %d subjects answered %d rows", label, len(keys), len(res.Msg.Rows))
		}
		for j, row := range res.Msg.Rows {
			if row.Statuses[0] != fvv1.FieldStatus_FIELD_STATUS_PRESENT {
				continue
			}
			present[lo+j] = true
			if got, want := row.Values[0].GetInt64Value(), subjectAge(lo+j); got != want {
				t.Errorf("%s: subject %d reads %d, want %d", label, lo+j, got, want)
			}
		}
	}
	acked := 0
	for _, b := range batches {
		got := 0
		for i := b.lo; i < b.hi; i++ {
			if present[i] {
				got++
			}
		}
		if b.acked {
			acked += b.hi - b.lo
			if got != b.hi-b.lo {
				t.Errorf("%s: acknowledged subjects %d..%d: %d of %d rows present", label, b.lo, b.hi-1, got, b.hi-b.lo)
			}
		}
		if got != 0 && got != b.hi-b.lo {
			t.Errorf("%s: subjects %d..%d are half-written: %d of %d rows", label, b.lo, b.hi-1, got, b.hi-b.lo)
		}
	}
	return acked
}

// checkKeyStatus checks that the key hierarchy adds up: no stored key is
// wrapped by a version outside the KEK keyset, the per-version counts add
// up to the total, there is one primary and it comes first, the service
// keysets are all there (service, from the first check, or 0 to learn
// it), there are at least as many subject keys as acknowledged subjects
// and no more than were ever sent, and an unfinished rewrap targets a
// version in the keyset.
func checkKeyStatus(ctx context.Context, t *testing.T, label string, admin featurevaultv1connect.AdminServiceClient, acked, sent int, service int64) *fvv1.GetKeyStatusResponse {
	t.Helper()
	res, err := admin.GetKeyStatus(ctx, connect.NewRequest(&fvv1.GetKeyStatusRequest{}))
	if err != nil {
		t.Fatalf("%s: key status: %v", label, err)
	}
	st := res.Msg
	if st.Unattributed != 0 {
		t.Errorf("%s: %d stored keys are wrapped by no version of the KEK keyset, want 0", label, st.Unattributed)
	}
	var subjects, svc int64
	primaries := 0
	inKeyset := map[uint32]bool{}
	for _, v := range st.Versions {
		subjects += v.SubjectKeys
		svc += v.ServiceKeysets
		inKeyset[v.Id] = true
		if v.Primary {
			primaries++
		}
	}
	if primaries != 1 || len(st.Versions) == 0 || !st.Versions[0].Primary {
		t.Errorf("%s: %d primary versions among %d (first primary: %v), want exactly one, listed first", label, primaries, len(st.Versions), len(st.Versions) > 0 && st.Versions[0].Primary)
	}
	if subjects != st.SubjectKeys {
		t.Errorf("%s: versions wrap %d subject keys in all, the keystore holds %d", label, subjects, st.SubjectKeys)
	}
	if service != 0 && svc != service {
		t.Errorf("%s: versions wrap %d service keysets, want %d", label, svc, service)
	}
	if svc < 1 {
		t.Errorf("%s: versions wrap %d service keysets, want at least the blind-index key", label, svc)
	}
	if st.SubjectKeys < int64(acked) || st.SubjectKeys > int64(sent) {
		t.Errorf("%s: %d subject keys; want between the %d acknowledged and the %d sent subjects", label, st.SubjectKeys, acked, sent)
	}
	if c := st.Rewrap; c != nil && !inKeyset[c.Target] {
		t.Errorf("%s: the unfinished rewrap targets version %d, which is not in the keyset", label, c.Target)
	}
	return st
}

// rewrapAll runs RewrapKeys to its end and returns its last report.
func rewrapAll(ctx context.Context, admin featurevaultv1connect.AdminServiceClient) (*fvv1.RewrapKeysResponse, error) {
	s, err := admin.RewrapKeys(ctx, connect.NewRequest(&fvv1.RewrapKeysRequest{BatchSize: rewrapBatch}))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var last *fvv1.RewrapKeysResponse
	for s.Receive() {
		last = s.Msg()
	}
	if err := s.Err(); err != nil {
		return last, err
	}
	if last == nil || !last.Finished {
		return last, errors.New("the rewrap stream ended without a finished report")
	}
	return last, nil
}

// TestKeysSurviveSIGKILLDuringRewrap kills the server with SIGKILL during
// KEK rotations and key rewraps, 20 times, restarting it on the same data
// directory each time. It writes rewrapSubjects subjects (one subject key
// each), measures how long a full rewrap takes, then each cycle rotates
// the KEK and re-wraps every key under the new version (or resumes the
// interrupted rewrap) and kills the server at a random moment of it,
// sometimes during the rotation itself, often while writers create new
// subjects. After each restart every acknowledged row must be present and
// decrypt, no batch may be half-written, and the key status must add up:
// no key wrapped by a version outside the keyset, per-version counts that
// sum to the total. Finally a rewrap runs to completion, every older
// version is retired (the server killed in the middle of the first
// retirement, which is then retried), the server restarts with a cold key
// cache, and every row must still decrypt: no key was left under a version
// that is gone, and the KEK still unwraps under the root.
func TestKeysSurviveSIGKILLDuringRewrap(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the rewrap crash test starts and kills 20 server processes")
	}
	t.Parallel()
	started := time.Now()
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 8))
	ctx := t.Context()
	l := &subjectLedger{}

	// Seed the subjects and measure a full rewrap.
	url, proc := crashServer(t, dir)
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })
	fs, admin := crashClients(t, dir, url)
	if _, err := admin.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{Name: "customer", JoinKey: "customer_id"}})); err != nil {
		t.Fatal(err)
	}
	view := &fvv1.FeatureView{Name: "profile", Entity: "customer", Fields: []*fvv1.Field{{Name: "age", Type: fvv1.FieldType_FIELD_TYPE_INT64}}}
	if _, err := admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: view})); err != nil {
		t.Fatal(err)
	}
	for range rewrapSubjects / 1000 {
		if err := l.write(ctx, fs, l.claim(1000)); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	if _, err := admin.RotateKEK(ctx, connect.NewRequest(&fvv1.RotateKEKRequest{})); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	full, err := rewrapAll(ctx, admin)
	if err != nil {
		t.Fatalf("measuring rewrap: %v", err)
	}
	rewrapTook := time.Since(begin)
	if full.Done < rewrapSubjects {
		t.Fatalf("the measuring rewrap re-wrapped %d keys, want at least %d", full.Done, rewrapSubjects)
	}
	t.Logf("seeded %d subjects in %s; a full rewrap in batches of %d takes %s", rewrapSubjects, time.Since(started).Round(time.Millisecond), rewrapBatch, rewrapTook.Round(time.Millisecond))
	service := checkKeyStatus(ctx, t, "after seeding", admin, rewrapSubjects, rewrapSubjects, 0).Versions[0].ServiceKeysets

	interrupted := 0 // cycles after which a rewrap cursor was left
	resumed := 0     // rewraps that continued from a stored cursor
	for cycle := range rewrapCycles {
		mode := rewrapKillMode(rng.IntN(int(rewrapKillModes)))
		if cycle < int(rewrapKillModes) {
			mode = rewrapKillMode(cycle) // every mode at least once
		}
		label := fmt.Sprintf("cycle %d (%s)", cycle, mode)
		if cycle > 0 {
			url, proc = crashServer(t, dir)
			fs, admin = crashClients(t, dir, url)
		}
		_, sent := l.snapshot()
		acked := checkSubjects(ctx, t, label+" before", fs, l)
		st := checkKeyStatus(ctx, t, label+" before", admin, acked, sent, service)
		if st.Rewrap != nil && cycle > 0 {
			interrupted++
		}
		if t.Failed() {
			t.FailNow()
		}

		// Writers of new subjects, until the server dies.
		var wg sync.WaitGroup
		if mode != killMidRewrap {
			for range 2 {
				wg.Go(func() {
					for l.write(ctx, fs, l.claim(20)) == nil {
					}
				})
			}
		}
		var delay time.Duration
		switch mode {
		case killMidRotation:
			go admin.RotateKEK(ctx, connect.NewRequest(&fvv1.RotateKEKRequest{}))
			delay = time.Duration(rng.IntN(15_000)) * time.Microsecond
		case killMidRewrap, killMidRewrapWrites:
			if _, err := admin.RotateKEK(ctx, connect.NewRequest(&fvv1.RotateKEKRequest{})); err != nil {
				t.Fatalf("%s: rotate: %v", label, err)
			}
			go rewrapAll(ctx, admin) // ends with an error when the server dies
			delay = time.Duration(rng.Int64N(int64(rewrapTook)))
		case killMidResumedRewrap:
			// The first report comes before any subject key is re-wrapped:
			// it must say whether the stored cursor was picked up.
			s, err := admin.RewrapKeys(ctx, connect.NewRequest(&fvv1.RewrapKeysRequest{BatchSize: rewrapBatch}))
			if err != nil {
				t.Fatalf("%s: rewrap: %v", label, err)
			}
			if !s.Receive() {
				t.Fatalf("%s: rewrap sent no report: %v", label, s.Err())
			}
			if got, want := s.Msg().Resumed, st.Rewrap != nil && st.Rewrap.Target == st.Versions[0].Id; got != want {
				t.Errorf("%s: rewrap reports resumed %v with cursor %v and primary %d, want %v", label, got, st.Rewrap, st.Versions[0].Id, want)
			} else if got {
				resumed++
			}
			go func() {
				for s.Receive() {
				}
				s.Close()
			}()
			delay = time.Duration(rng.Int64N(int64(rewrapTook)))
		}
		time.Sleep(delay)
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = proc.Wait()
		wg.Wait()
	}

	// Restart, check, finish the rewrap and retire every older version.
	url, proc = crashServer(t, dir)
	fs, admin = crashClients(t, dir, url)
	_, sent := l.snapshot()
	acked := checkSubjects(ctx, t, "after the last kill", fs, l)
	if st := checkKeyStatus(ctx, t, "after the last kill", admin, acked, sent, service); st.Rewrap != nil {
		interrupted++
	}
	last, err := rewrapAll(ctx, admin)
	if err != nil {
		t.Fatalf("final rewrap: %v (last report %v)", err, last)
	}
	if last.Failed != 0 {
		t.Errorf("final rewrap: %d keys did not unwrap, want 0", last.Failed)
	}
	st := checkKeyStatus(ctx, t, "after the final rewrap", admin, acked, sent, service)
	if st.Rewrap != nil {
		t.Errorf("after the final rewrap a rewrap cursor is left: %v", st.Rewrap)
	}
	var retired []uint32
	for _, v := range st.Versions[1:] {
		if v.SubjectKeys+v.ServiceKeysets != 0 {
			t.Errorf("after the final rewrap version %d still wraps %d subject keys and %d service keysets, want none", v.Id, v.SubjectKeys, v.ServiceKeysets)
			continue
		}
		retired = append(retired, v.Id)
	}
	if len(retired) == 0 {
		t.Fatal("no KEK version to retire: the cycles rotated nothing")
	}
	// Kill the server in the middle of the first retirement (a census of
	// every key, the KEK stored without the version, the root rotated and
	// its older versions destroyed), then retire every version, the first
	// again: a retry finishes what the kill interrupted.
	go admin.RetireKEK(ctx, connect.NewRequest(&fvv1.RetireKEKRequest{Version: retired[0]}))
	time.Sleep(time.Duration(rng.IntN(60_000)) * time.Microsecond)
	stopCrashServer(t, proc)
	url, proc = crashServer(t, dir)
	fs, admin = crashClients(t, dir, url)
	checkSubjects(ctx, t, "after a kill mid-retire", fs, l)
	checkKeyStatus(ctx, t, "after a kill mid-retire", admin, acked, sent, service)
	for _, id := range retired {
		if _, err := admin.RetireKEK(ctx, connect.NewRequest(&fvv1.RetireKEKRequest{Version: id})); err != nil {
			t.Errorf("retire version %d: %v", id, err)
		}
	}
	stopCrashServer(t, proc)

	// A cold start: every key must unwrap under what is left of the KEK.
	url, proc = crashServer(t, dir)
	fs, admin = crashClients(t, dir, url)
	if got := checkSubjects(ctx, t, "after retiring", fs, l); got != acked {
		t.Errorf("after retiring %d subjects are acknowledged, want %d", got, acked)
	}
	st = checkKeyStatus(ctx, t, "after retiring", admin, acked, sent, service)
	if len(st.Versions) != 1 {
		t.Errorf("after retiring, %d KEK versions are left, want 1", len(st.Versions))
	}
	if len(st.Retired) < len(retired) || st.RootVersions != 1 {
		t.Errorf("status lists %d retired versions and %d root versions, want at least the %d just retired and 1", len(st.Retired), st.RootVersions, len(retired))
	}
	stopCrashServer(t, proc)
	if interrupted < rewrapCycles/4 {
		t.Errorf("only %d of %d kills left an unfinished rewrap: the test hardly exercised a kill mid-rewrap", interrupted, rewrapCycles)
	}
	t.Logf("%d kill cycles, %d of them left an unfinished rewrap, %d rewraps resumed one; %d subjects acknowledged of %d sent; %d KEK versions retired; %s in all",
		rewrapCycles, interrupted, resumed, acked, sent, len(retired), time.Since(started).Round(time.Millisecond))
}

// stopCrashServer kills a crash-test server and waits for it.
func stopCrashServer(t *testing.T, proc *exec.Cmd) {
	t.Helper()
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
}
