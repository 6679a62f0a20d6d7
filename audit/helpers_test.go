package audit_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// newMAC returns a fresh HMAC-SHA256 MAC, as keys.NamedKeyset would give.
func newMAC(t testing.TB) tink.MAC {
	t.Helper()
	h, err := keyset.NewHandle(mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	m, err := mac.New(h)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newMemStore(t testing.TB) kv.Store {
	t.Helper()
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// stepClock returns a clock that starts at epoch and advances one second
// per call; safe for concurrent use.
func stepClock() func() time.Time {
	var n atomic.Int64
	return func() time.Time { return epoch.Add(time.Duration(n.Add(1)-1) * time.Second) }
}

func testOptions() audit.Options { return audit.DefaultOptions().WithClock(stepClock()) }

func openLog(t testing.TB, s kv.Store, m tink.MAC, o audit.Options) *audit.Log {
	t.Helper()
	l, err := audit.Open(s, m, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// sample returns a realistic record: the i-th of a mix of reads, writes and
// admin actions.
func sample(i int) audit.Record {
	switch i % 3 {
	case 0:
		return audit.Record{
			Principal: "alice", Action: "read",
			Procedure: "/featurevault.v1.FeatureService/GetOnlineFeatures",
			View:      "customer_profile", Allowed: []string{"age_bucket", "ltv"}, Denied: []string{"email"},
			Entities: 3, Purpose: "training", Env: "prod",
			Rule: "p, role:analyst, customer_profile.*, read, training, prod, allow", Outcome: "ok",
		}
	case 1:
		return audit.Record{
			Principal: "ingest", Action: "write",
			Procedure: "/featurevault.v1.FeatureService/WriteFeatures",
			View:      "customer_profile", Allowed: []string{"age_bucket", "ltv", "email"},
			Entities: 50, Purpose: "ingest", Env: "prod", Rule: "p, role:ingest, customer_profile.*, write, ingest, prod, allow",
			Outcome: "ok",
		}
	default:
		return audit.Record{
			Principal: "bob", Action: "aggregate", View: "customer_profile", Allowed: []string{"ltv"},
			Entities: 1000, Purpose: "analytics", Env: "prod", Epsilon: 0.5, Delta: 1e-6,
			Outcome: "permission_denied", Detail: "budget exhausted",
		}
	}
}

// appendN appends n sample records and returns them as stored.
func appendN(t testing.TB, l *audit.Log, n int) []audit.Record {
	t.Helper()
	out := make([]audit.Record, n)
	for i := range out {
		r, err := l.Append(t.Context(), sample(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out[i] = r
	}
	return out
}

// problem is the part of audit.Problem tests compare.
type problem struct {
	Seq  uint64
	Kind audit.Kind
}

func problemsOf(r audit.Report) []problem {
	var out []problem
	for _, p := range r.Problems {
		out = append(out, problem{p.Seq, p.Kind})
	}
	return out
}

// faultyStore wraps a kv.Store; while fail is set, Apply fails. With commit
// set, the batch is written first and the error returned after (a write
// whose acknowledgement was lost).
type faultyStore struct {
	kv.Store
	mu     sync.Mutex
	fail   error
	commit bool
}

var errInjected = errors.New("injected disk failure")

func (f *faultyStore) set(err error, commit bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.commit = err, commit
}

func (f *faultyStore) Apply(ops []kv.Op) error {
	f.mu.Lock()
	fail, commit := f.fail, f.commit
	f.mu.Unlock()
	if fail == nil {
		return f.Store.Apply(ops)
	}
	if commit {
		if err := f.Store.Apply(ops); err != nil {
			return err
		}
	}
	return fail
}

// smallBatchStore refuses batches of more than max ops with kv.ErrTooLarge.
type smallBatchStore struct {
	kv.Store
	max int
}

func (s smallBatchStore) Apply(ops []kv.Op) error {
	if len(ops) > s.max {
		return kv.ErrTooLarge
	}
	return s.Store.Apply(ops)
}
