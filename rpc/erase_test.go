package rpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"net/http"

	"connectrpc.com/connect"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/store"
)

// TestEraseThroughTheServer erases a subject over the AdminService and
// checks every promise of an erasure: the receipt, reads and batch exports
// without the subject, writes refused with FailedPrecondition under
// suppression, and an audit receipt that names the subject by blind index,
// principal and what was destroyed, and never the raw key.
func TestEraseThroughTheServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx := t.Context()
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-42"), sampleRow("c-7")}})); err != nil {
		t.Fatal(err)
	}

	res, err := s.admin.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "customer", Keys: []string{"c-42"}, Suppress: true}))
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	r := res.Msg.Receipts[0]
	if len(res.Msg.Receipts) != 1 || !r.KeyDestroyed || !r.RecordDeleted || r.Rows != 1 || !r.Suppressed || r.AuditSeq == 0 || len(r.BlindIndex) != 32 {
		t.Fatalf("receipt = %+v; want key, record and 1 row destroyed, suppressed, with an audit record", r)
	}

	got, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-42", "c-7"}, Features: []string{"age"}}))
	if err != nil {
		t.Fatal(err)
	}
	if st := got.Msg.Rows[0].Statuses[0]; st != fvv1.FieldStatus_FIELD_STATUS_NOT_FOUND || got.Msg.Rows[1].Statuses[0] != fvv1.FieldStatus_FIELD_STATUS_PRESENT {
		t.Errorf("online read after erasure: statuses %v, %v; want NOT_FOUND for c-42, PRESENT for c-7", st, got.Msg.Rows[1].Statuses[0])
	}
	sc, err := s.store.Scan(ctx, "profile", store.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var scanned []string
	for sc.Next() {
		for i := range sc.Batch().Len() {
			scanned = append(scanned, sc.Batch().EntityKey(i))
		}
	}
	sc.Close()
	if strings.Join(scanned, ",") != "c-7" {
		t.Errorf("batch export after erasure returned %v; want only c-7", scanned)
	}
	_, err = s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-42")}}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || strings.Contains(err.Error(), "c-42") {
		t.Errorf("write of the suppressed subject: %v; want FailedPrecondition without the key", err)
	}

	recs, err := s.admin.ReadAudit(ctx, connect.NewRequest(&fvv1.ReadAuditRequest{From: r.AuditSeq, Limit: 1}))
	if err != nil {
		t.Fatal(err)
	}
	rec := recs.Msg.Records[0]
	if rec.Action != "erase" || rec.Principal != "admin" || len(rec.Subjects) != 1 || rec.Subjects[0] != r.BlindIndex ||
		rec.Detail != "erasure of a subject of entity customer: subject key destroyed; subject record deleted; 1 rows deleted in 1 views; later writes suppressed" {
		t.Errorf("audit receipt = %+v", rec)
	}
	all, _ := s.admin.ReadAudit(ctx, connect.NewRequest(&fvv1.ReadAuditRequest{Limit: 1000}))
	b, _ := json.Marshal(all.Msg)
	for _, secret := range []string{"c-42", "a@example.com"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
}

func TestSubjectRightsNeedTheAdminAction(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx := t.Context()
	p, err := s.admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "analyst", Roles: []string{"analyst"}}))
	if err != nil {
		t.Fatal(err)
	}
	analyst := featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, s.url, s.as(p.Msg.Token, ""))
	calls := map[string]func() error{
		"Erase": func() error {
			_, err := analyst.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "customer", Keys: []string{"c-1"}}))
			return err
		},
		"ExportSubject": func() error {
			_, err := analyst.ExportSubject(ctx, connect.NewRequest(&fvv1.ExportSubjectRequest{Entity: "customer", Key: "c-1"}))
			return err
		},
		"RotateKEK": func() error {
			_, err := analyst.RotateKEK(ctx, connect.NewRequest(&fvv1.RotateKEKRequest{}))
			return err
		},
		"RewrapKeys": func() error {
			st, err := analyst.RewrapKeys(ctx, connect.NewRequest(&fvv1.RewrapKeysRequest{}))
			if err != nil {
				return err
			}
			for st.Receive() {
			}
			return st.Err()
		},
	}
	for name, f := range calls {
		if err := f(); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Errorf("%s by a non-admin: %v; want PermissionDenied", name, err)
		}
	}
}

func TestRewrapStreamsProgressThroughTheServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx := t.Context()
	var rows []*fvv1.Row
	for i := range 300 {
		rows = append(rows, sampleRow("c-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+time.Duration(i).String()))
	}
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: rows})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.admin.RotateKEK(ctx, connect.NewRequest(&fvv1.RotateKEKRequest{})); err != nil {
		t.Fatal(err)
	}
	st, err := s.admin.RewrapKeys(ctx, connect.NewRequest(&fvv1.RewrapKeysRequest{BatchSize: 50}))
	if err != nil {
		t.Fatal(err)
	}
	var last *fvv1.RewrapKeysResponse
	for st.Receive() {
		last = st.Msg()
	}
	if err := st.Err(); err != nil {
		t.Fatalf("RewrapKeys: %v", err)
	}
	// 300 subjects, the blind-index key, the audit MAC, JWT and
	// checkpoint-signing keysets.
	if last == nil || !last.Finished || last.Total != 304 || last.Done != 304 {
		t.Errorf("last progress = %+v; want finished, 304 of 304", last)
	}
	ks, err := s.admin.GetKeyStatus(ctx, connect.NewRequest(&fvv1.GetKeyStatusRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if v := ks.Msg.Versions; len(v) != 2 || v[0].SubjectKeys != 300 || v[1].SubjectKeys != 0 || v[1].ServiceKeysets != 0 {
		t.Errorf("key status after rewrap = %+v; want all 300 under the primary", v)
	}
	if _, err := s.admin.RetireKEK(ctx, connect.NewRequest(&fvv1.RetireKEKRequest{Version: ks.Msg.Versions[1].Id})); err != nil {
		t.Errorf("RetireKEK: %v", err)
	}
}

func TestScheduledKEKRotationRotatesRewrapsAndRetires(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow("c-1")}})); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.backend.RunKEKRotation(ctx, time.Second, quietLog); close(done) }()
	defer func() { cancel(); <-done }()
	// Wait for a whole cycle: an old version retired, the subject re-wrapped
	// under the version the last rotation made, and every step audited.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := s.store.Keyring().Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := s.admin.ReadAudit(ctx, connect.NewRequest(&fvv1.ReadAuditRequest{Tail: 50}))
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, r := range recs.Msg.Records {
			if r.Principal == "system:kek-rotation" && r.Outcome == "ok" {
				steps = append(steps, r.Detail)
			}
		}
		j := strings.Join(steps, " | ")
		audited := strings.Contains(j, "scheduled: retire KEK version") && strings.Contains(j, "scheduled: rotate the KEK") && strings.Contains(j, "scheduled: rewrap")
		if audited && len(st.Retired) > 0 && st.Versions[0].Subjects == 1 && st.Rewrap == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 20s the schedule did not retire a version, re-wrap the subject and audit it: status %+v, audited steps %v", st, steps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
