package rpc_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// TestShutdownFinishesInFlightStreams stops the server while an export is
// half read: the export still delivers every row, and only then does Serve
// return; afterwards the server takes no new calls.
func TestShutdownFinishesInFlightStreams(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	ctx := t.Context()
	const rows = 3000
	for i := 0; i < rows; i += 500 {
		req := &fvv1.WriteFeaturesRequest{View: "profile"}
		for j := i; j < i+500; j++ {
			req.Rows = append(req.Rows, sampleRow(fmt.Sprintf("c-%d", j)))
		}
		if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(req)); err != nil {
			t.Fatal(err)
		}
	}

	c := client.New(nil, s.url, client.WithToken(s.token), client.WithPurpose("analytics"))
	// Every field of 3000 rows is ~300 KB, more than a flow-control window:
	// the server is still mid-stream when shutdown begins.
	rd, err := c.ReadBatches(ctx, "profile", client.Read{BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if !rd.Next() {
		t.Fatalf("first batch: %v", rd.Err())
	}
	got := rd.RecordBatch().NumRows()

	stopped := make(chan struct{})
	go func() { s.stop(); close(stopped) }()
	for rd.Next() {
		got += rd.RecordBatch().NumRows()
	}
	if err := rd.Err(); err != nil {
		t.Fatalf("the export in flight when shutdown began failed: %v", err)
	}
	if got != rows {
		t.Fatalf("the export in flight when shutdown began delivered %d rows, want %d", got, rows)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after the last stream finished")
	}

	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = s.feature.GetOnlineFeatures(callCtx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-1"}}))
	if code := connect.CodeOf(err); code != connect.CodeUnavailable && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call after shutdown: got %v (code %s), want Unavailable", err, code)
	}
}
