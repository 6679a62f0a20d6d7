package rpc_test

import (
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// TestRestrictionHoldsOnEveryReadPath restricts one subject for training
// (an opt-out) and reads as bob, who may read everything: online and batch
// reads for training leave the subject out, reads for analytics do not.
func TestRestrictionHoldsOnEveryReadPath(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	ctx := t.Context()
	if _, err := f.s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-2")}})); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.admin.RestrictSubject(ctx, connect.NewRequest(&fvv1.RestrictSubjectRequest{Entity: "customer", Key: "c-1", Purpose: "training"})); err != nil {
		t.Fatal(err)
	}
	online := func(purpose string) []fvv1.FieldStatus {
		res, err := f.feature("bob", purpose).GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-1", "c-2"}, Features: []string{"age"}}))
		if err != nil {
			t.Fatal(err)
		}
		return []fvv1.FieldStatus{res.Msg.Rows[0].Statuses[0], res.Msg.Rows[1].Statuses[0]}
	}
	present, notFound := fvv1.FieldStatus_FIELD_STATUS_PRESENT, fvv1.FieldStatus_FIELD_STATUS_NOT_FOUND
	if got := online("training"); got[0] != notFound || got[1] != present {
		t.Errorf("online read for training: %v, want c-1 NOT_FOUND, c-2 PRESENT", got)
	}
	if got := online("analytics"); got[0] != present || got[1] != present {
		t.Errorf("online read for analytics: %v, want both PRESENT", got)
	}
	batchKeys := func(purpose string) map[string]bool {
		c := client.New(http.DefaultClient, f.s.url, client.WithToken(f.tokens["bob"]), client.WithPurpose(purpose))
		r, err := c.ReadBatches(ctx, "profile", client.Read{Features: []string{"age"}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		keys := map[string]bool{}
		for r.Next() {
			col := r.RecordBatch().Column(0)
			for i := range col.Len() {
				keys[col.ValueStr(i)] = true
			}
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return keys
	}
	if got := batchKeys("training"); got["c-1"] || !got["c-2"] {
		t.Errorf("batch read for training holds %v, want c-2 and not c-1", got)
	}
	if got := batchKeys("analytics"); !got["c-1"] || !got["c-2"] {
		t.Errorf("batch read for analytics holds %v, want c-1 and c-2", got)
	}
}
