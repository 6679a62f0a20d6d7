package rpc_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/client"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// lockedBuffer is a bytes.Buffer safe for the server's concurrent logging.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogsNeverHoldValuesKeysOrTokens runs a server logging everything (debug
// level, JSON) through writes, reads, refusals, admin calls and an erasure
// with marker values, entity keys and tokens, then scans every log line.
// It covers what goes through the server's logger (store, keys, rpc); the
// interceptor and handlers log nothing else.
func TestLogsNeverHoldValuesKeysOrTokens(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	s := serveBackend(t, dir, openBackend(t, dir, log), rpc.WithLogger(log))
	ctx := t.Context()
	applySpec(t, s)

	const keyMarker, valueMarker = "LOGKEYMARKER-51c2", "LOGVALUEMARKER-9d1e"
	row := sampleRow(keyMarker)
	row.Values["email"] = &fvv1.Value{Kind: &fvv1.Value_StringValue{StringValue: valueMarker}}
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{row}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{keyMarker}})); err != nil {
		t.Fatal(err)
	}
	created, err := s.admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "mallory", Roles: []string{"nobody"}}))
	if err != nil {
		t.Fatal(err)
	}
	// Refusals: a bad token, a denied read, bad input carrying the markers.
	bad := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, connect.WithInterceptors(client.HeaderInterceptor(client.Headers(created.Msg.Token+"x", "analytics", false))))
	_, _ = bad.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{keyMarker}}))
	mallory := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, s.as(created.Msg.Token, "analytics"))
	_, _ = mallory.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{keyMarker}}))
	badRow := &fvv1.Row{EntityKey: keyMarker + "\x00", Values: map[string]*fvv1.Value{"age": {Kind: &fvv1.Value_StringValue{StringValue: valueMarker}}}}
	_, _ = s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{badRow}}))
	if _, err := s.admin.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "customer", Keys: []string{keyMarker}})); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "bootstrap admin") {
		t.Fatalf("the server logged nothing recognisable; the scan would prove nothing:\n%s", out)
	}
	for name, secret := range map[string]string{
		"entity key": keyMarker, "feature value": valueMarker,
		"admin token": s.token, "principal token": created.Msg.Token,
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}
