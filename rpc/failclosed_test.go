package rpc_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/store"
)

// failingKV refuses writes once broken is set.
type failingKV struct {
	kv.Store
	broken atomic.Bool
}

func (f *failingKV) Apply(ops []kv.Op) error {
	if f.broken.Load() {
		return errors.New("disk full")
	}
	return f.Store.Apply(ops)
}

// TestAuditFailureFailsTheRequest breaks the audit log's storage and checks
// that reads and writes are refused rather than served unaudited.
func TestAuditFailureFailsTheRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openBackend(t, dir, quietLog)
	mem, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	fkv := &failingKV{Store: mem}
	h, _ := keyset.NewHandle(mac.HMACSHA256Tag256KeyTemplate())
	m, _ := mac.New(h)
	if b.Audit, err = audit.Open(fkv, m, audit.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	s := serveBackend(t, dir, b)
	ctx := t.Context()
	applySpec(t, s)
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-1")}})); err != nil {
		t.Fatal(err)
	}
	fkv.broken.Store(true)
	res, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-1"}}))
	if connect.CodeOf(err) != connect.CodeUnavailable || res != nil {
		t.Errorf("read with a broken audit log = %v, %v; want Unavailable and no data", res, err)
	}
	_, err = s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-2")}}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("write with a broken audit log = %v; want Unavailable", err)
	}
	// Nothing was written: mutations are recorded before they happen.
	got, err := b.Store.GetOnline(ctx, "profile", []string{"c-2"}, []string{"age"})
	if err != nil || got.Rows[0].Statuses[0] != store.NotFound {
		t.Errorf("the refused write reached the store: %v, %v", got, err)
	}
	_, err = s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule("x", read, "*", "", "", false)}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("grant with a broken audit log = %v; want Unavailable", err)
	}
	if n := len(b.Policy.ListRules()); n != 4 {
		t.Errorf("the refused grant changed the policy: %d rules, want the bootstrap 4", n)
	}
	_, err = s.admin.ListFeatureViews(ctx, connect.NewRequest(&fvv1.ListFeatureViewsRequest{}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("admin call with a broken audit log = %v; want Unavailable", err)
	}
}
