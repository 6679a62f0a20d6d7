package rpc_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// slowReader is an HTTP/1.1 client whose sockets have a small, fixed
// receive buffer, so that a server stream it stops reading fills the
// network's buffers after a few megabytes and the server's handler stays
// in flight (blocked sending) until the client reads on.
func slowReader() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10) })
		if err != nil {
			return err
		}
		return serr
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
}

// bigAvatarRows are how many rows seedBigView writes, 200 KB each: far
// more than the buffers between a server and a slowReader.
const bigAvatarRows = 80

// seedBigView writes bigAvatarRows rows with a 200 KB avatar to profile.
func seedBigView(t *testing.T, s *server) {
	t.Helper()
	applySpec(t, s)
	avatar := bytes.Repeat([]byte{0xa5}, 200<<10)
	for i := 0; i < bigAvatarRows; i += 10 {
		var rows []*fvv1.Row
		for j := i; j < i+10; j++ {
			rows = append(rows, &fvv1.Row{EntityKey: "c-" + string(rune('A'+j/26)) + string(rune('a'+j%26)), Values: map[string]*fvv1.Value{"avatar": {Kind: &fvv1.Value_BytesValue{BytesValue: avatar}}}})
		}
		if _, err := s.feature.WriteFeatures(t.Context(), connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: rows})); err != nil {
			t.Fatal(err)
		}
	}
}

// openHeld starts ReadBatches of the big view, one row per batch, and
// reads its first message (the schema): the server's handler is then in
// flight until the stream is drained or cancelled.
func openHeld(t *testing.T, fc featurevaultv1connect.FeatureServiceClient) (*connect.ServerStreamForClient[fvv1.ReadBatchesResponse], context.CancelFunc, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	st, err := fc.ReadBatches(ctx, connect.NewRequest(&fvv1.ReadBatchesRequest{View: "profile", Features: []string{"avatar"}, BatchRows: 1}))
	if err == nil && !st.Receive() {
		err = st.Err()
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	t.Cleanup(func() { cancel(); _ = st.Close() })
	return st, cancel, nil
}

// drainStream reads the rest of a stream and returns the rows it carried and
// the error it ended with.
func drainStream(st *connect.ServerStreamForClient[fvv1.ReadBatchesResponse]) (int64, error) {
	var rows int64
	for st.Receive() {
		rows += st.Msg().Rows
	}
	return rows, st.Err()
}

// TestStreamLimitsCutLongStreamsAndCapEachPrincipalsOpenStreams runs one
// server with a 1 s stream limit and 2 streams per principal: a third
// stream of the same principal is refused, another principal's is not;
// a stream held past the limit ends in DeadlineExceeded naming the flag,
// which frees its slot; a client stream left open is cut the same way.
func TestStreamLimitsCutLongStreamsAndCapEachPrincipalsOpenStreams(t *testing.T) {
	t.Parallel()
	const limit = time.Second
	s := startServer(t, t.TempDir(), rpc.WithMaxStreamDuration(limit), rpc.WithMaxStreamsPerPrincipal(2), rpc.WithMaxRequestBytes(16<<20))
	seedBigView(t, s)
	slow := featurevaultv1connect.NewFeatureServiceClient(slowReader(), s.url, s.as(s.token, "analytics"))

	started := time.Now()
	first, _, err := openHeld(t, slow)
	if err != nil {
		t.Fatalf("first stream: %v", err)
	}
	second, cancelSecond, err := openHeld(t, slow)
	if err != nil {
		t.Fatalf("second stream: %v", err)
	}
	_, _, err = openHeld(t, slow)
	if got := connect.CodeOf(err); got != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "already has 2 streams open") || !strings.Contains(err.Error(), "--max-streams-per-principal") {
		t.Fatalf("third stream of the same principal = %v (%v), want ResourceExhausted naming 2 streams and --max-streams-per-principal", err, got)
	}

	// Another principal has its own count: its stream gets past the limit
	// (and is then decided by the policy, which grants it nothing).
	res, err := s.admin.CreatePrincipal(t.Context(), connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "trainer"}))
	if err != nil {
		t.Fatal(err)
	}
	other := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, s.as(res.Msg.Token, "analytics"))
	if _, _, err := openHeld(t, other); connect.CodeOf(err) == connect.CodeResourceExhausted {
		t.Errorf("another principal's stream = %v, want it not counted against the first principal", err)
	}

	time.Sleep(time.Until(started.Add(limit + 300*time.Millisecond)))
	rows, err := drainStream(first)
	if got := connect.CodeOf(err); got != connect.CodeDeadlineExceeded || !strings.Contains(err.Error(), "cut after 1s") || !strings.Contains(err.Error(), "--max-stream-duration") {
		t.Fatalf("stream held past the limit ended with %v (%v), want DeadlineExceeded naming 1s and --max-stream-duration", err, got)
	}
	if rows >= bigAvatarRows {
		t.Errorf("the cut stream carried %d rows, want fewer than the view's %d", rows, bigAvatarRows)
	}

	// The cut stream's slot is free again.
	third, cancelThird, err := openHeld(t, slow)
	if err != nil {
		t.Fatalf("a stream after one was cut = %v, want it admitted", err)
	}
	cancelSecond()
	cancelThird()
	_, _ = drainStream(second)
	_, _ = drainStream(third)

	// A client stream that sends its first message and then nothing is cut
	// at the limit too: the server stops waiting for it (its slot frees up
	// while the client is still idle), and the client reads why.
	//
	// The slots of the streams cancelled above free up when their handlers
	// notice, which can be after the client has moved on: if the idle
	// stream itself is refused at its start for want of a slot, that is
	// the setup, not the property under test, and the step is tried again.
	for attempt := 1; ; attempt++ {
		waitForFreeSlot(t, slow)
		held, cancelHeld, err := openHeld(t, slow) // its handler stays blocked sending
		if err != nil {
			t.Fatal(err)
		}
		ing := s.feature.IngestArrow(t.Context())
		if err := ing.Send(&fvv1.IngestArrowRequest{View: "profile"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(limit + 500*time.Millisecond)
		third, cancelThird, err := openHeld(t, slow)
		if err != nil {
			t.Fatalf("a stream while an idle client stream is past the limit = %v, want the idle one cut and its slot free", err)
		}
		_, err = ing.CloseAndReceive()
		cancelHeld()
		cancelThird()
		_, _ = drainStream(held)
		_, _ = drainStream(third)
		if connect.CodeOf(err) == connect.CodeResourceExhausted && attempt < 3 {
			time.Sleep(streamWait / 10)
			continue
		}
		if got := connect.CodeOf(err); got != connect.CodeDeadlineExceeded || !strings.Contains(err.Error(), "--max-stream-duration") {
			t.Fatalf("idle IngestArrow stream ended with %v (%v), want DeadlineExceeded naming --max-stream-duration", err, got)
		}
		return
	}
}

// streamWait bounds how long a test waits for a stream's slot to be
// released after its client went away.
const streamWait = 5 * time.Second

// waitForFreeSlot waits until the principal behind fc may open a stream
// again: after a client cancels, its handler ends when the server notices.
func waitForFreeSlot(t *testing.T, fc featurevaultv1connect.FeatureServiceClient) {
	t.Helper()
	deadline := time.Now().Add(streamWait)
	for {
		st, cancel, err := openHeld(t, fc)
		if err == nil {
			cancel()
			_, _ = drainStream(st)
			return
		}
		if connect.CodeOf(err) != connect.CodeResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("no stream slot freed within %s: %v", streamWait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOversizeMessagesNameTheLimitAndTheFlag sends a message over the
// limit with each protocol and framing: gRPC unary (enveloped, HTTP/2)
// and a Connect client stream (enveloped, HTTP/1.1). The Connect unary
// case is in TestBadInputGetsClearErrorAndChangesNothing.
func TestOversizeMessagesNameTheLimitAndTheFlag(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	s := startServer(t, t.TempDir(), rpc.WithMaxRequestBytes(limit))
	applySpec(t, s)
	h2c := &http.Client{Transport: &http.Transport{Protocols: new(http.Protocols)}}
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	grpc := featurevaultv1connect.NewFeatureServiceClient(h2c, s.url, s.as(s.token, "analytics"), connect.WithGRPC())
	big := &fvv1.Value{Kind: &fvv1.Value_StringValue{StringValue: strings.Repeat("x", 100<<10)}}
	tests := []struct {
		name string
		call func(context.Context) error
	}{
		{"gRPC unary", func(ctx context.Context) error {
			_, err := grpc.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{{EntityKey: "c-1", Values: map[string]*fvv1.Value{"email": big}}}}))
			return err
		}},
		{"Connect client stream", func(ctx context.Context) error {
			st := s.feature.IngestArrow(ctx)
			if err := st.Send(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: bytes.Repeat([]byte{1}, 100<<10)}); err != nil {
				t.Logf("send: %v", err) // the server may answer before the message is sent
			}
			_, err := st.CloseAndReceive()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context())
			if got := connect.CodeOf(err); got != connect.CodeResourceExhausted {
				t.Fatalf("code = %v (%v), want ResourceExhausted", got, err)
			}
			if want := "over the server's limit of 65536 bytes per message (--max-request-bytes)"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		})
	}
}

// TestStreamCutReachesGRPCClientsOverHTTP2 checks the stream duration
// limit over gRPC on HTTP/2, where the error travels in trailers after
// the batches already sent.
func TestStreamCutReachesGRPCClientsOverHTTP2(t *testing.T) {
	t.Parallel()
	const limit = time.Second
	s := startServer(t, t.TempDir(), rpc.WithMaxStreamDuration(limit), rpc.WithMaxRequestBytes(16<<20))
	seedBigView(t, s)
	h2c := slowReader()
	h2c.Transport.(*http.Transport).Protocols = new(http.Protocols)
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	grpc := featurevaultv1connect.NewFeatureServiceClient(h2c, s.url, s.as(s.token, "analytics"), connect.WithGRPC())
	started := time.Now()
	st, _, err := openHeld(t, grpc)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(started.Add(limit + 300*time.Millisecond)))
	rows, err := drainStream(st)
	if got := connect.CodeOf(err); got != connect.CodeDeadlineExceeded || !strings.Contains(err.Error(), "--max-stream-duration") {
		t.Fatalf("gRPC stream held past the limit ended with %v (%v), want DeadlineExceeded naming --max-stream-duration", err, got)
	}
	if rows >= bigAvatarRows {
		t.Errorf("the cut stream carried %d rows, want fewer than the view's %d", rows, bigAvatarRows)
	}
}

// TestAdminStreamsAreExemptFromTheStreamDuration holds a data backup open
// past --max-stream-duration: it is an operator's stream whose length
// grows with the store, so it finishes instead of being cut.
func TestAdminStreamsAreExemptFromTheStreamDuration(t *testing.T) {
	t.Parallel()
	const limit = time.Second
	s := startServer(t, t.TempDir(), rpc.WithMaxStreamDuration(limit), rpc.WithMaxRequestBytes(16<<20))
	seedBigView(t, s) // 16 MB: far more than the buffers to a slowReader
	admin := featurevaultv1connect.NewAdminServiceClient(slowReader(), s.url, s.as(s.token, ""))
	st, err := admin.Backup(t.Context(), connect.NewRequest(&fvv1.BackupRequest{Part: fvv1.BackupPart_BACKUP_PART_DATA}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Receive() {
		t.Fatalf("first backup chunk: %v", st.Err())
	}
	time.Sleep(limit + 500*time.Millisecond)
	finished := false
	for st.Receive() {
		finished = finished || st.Msg().Finished
	}
	if err := st.Err(); err != nil || !finished {
		t.Fatalf("a backup held past the stream limit ended with %v (finished %v), want it to finish", err, finished)
	}
}

// TestIngestBatchLimitNamesItsFlag runs a server whose Arrow batch limit
// is 4 KiB: an 8 KiB batch is refused with ResourceExhausted naming
// --max-ingest-batch-bytes and writes nothing; a small one is written.
func TestIngestBatchLimitNamesItsFlag(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), rpc.WithMaxIngestBatchBytes(4<<10))
	applySpec(t, s)
	avatar := func(n int) []byte {
		return ingestTable(t, arrow.Field{Name: "avatar", Type: arrow.BinaryTypes.Binary, Nullable: true}, func(b array.Builder) {
			b.(*array.BinaryBuilder).Append(bytes.Repeat([]byte{7}, n))
		})
	}
	ingest := func(payload []byte) error {
		cs := s.feature.IngestArrow(t.Context())
		if err := cs.Send(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: payload}); err != nil {
			return err
		}
		_, err := cs.CloseAndReceive()
		return err
	}
	online := func() fvv1.FieldStatus {
		res, err := s.feature.GetOnlineFeatures(t.Context(), connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{markerKey}, Features: []string{"avatar"}}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.Rows[0].Statuses[0]
	}
	err := ingest(avatar(8 << 10))
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "--max-ingest-batch-bytes") {
		t.Fatalf("an 8 KiB batch over a 4 KiB limit: %v, want ResourceExhausted naming --max-ingest-batch-bytes", err)
	}
	if st := online(); st != fvv1.FieldStatus_FIELD_STATUS_NOT_FOUND {
		t.Fatalf("after the refused batch the row's status is %v, want NOT_FOUND", st)
	}
	if err := ingest(avatar(16)); err != nil {
		t.Fatalf("a small batch under the limit: %v", err)
	}
	if st := online(); st != fvv1.FieldStatus_FIELD_STATUS_PRESENT {
		t.Fatalf("after the accepted batch the row's status is %v, want PRESENT", st)
	}
}
