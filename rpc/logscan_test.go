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
// level, JSON) through writes, reads, refusals (bad token, denied read,
// malformed row, a value outside its constraints, a malformed Arrow
// stream), admin calls, a KEK rotation and rewrap, backups and an erasure
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
	// A value breaking a declared constraint, and an Arrow stream that is
	// not one but carries the markers.
	checked := &fvv1.FeatureView{Name: "checked", Entity: "customer", Fields: []*fvv1.Field{{Name: "tier", Type: fvv1.FieldType_FIELD_TYPE_STRING,
		Constraints: &fvv1.FieldConstraints{AllowedStrings: []string{"gold", "silver"}}}}}
	if _, err := s.admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: checked})); err != nil {
		t.Fatal(err)
	}
	tier := &fvv1.Row{EntityKey: keyMarker, Values: map[string]*fvv1.Value{"tier": {Kind: &fvv1.Value_StringValue{StringValue: valueMarker}}}}
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "checked", Rows: []*fvv1.Row{tier}})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("a value outside the allowed set: %v, want InvalidArgument", err)
	}
	ing := s.feature.IngestArrow(ctx)
	_ = ing.Send(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: []byte(keyMarker + valueMarker)})
	_, _ = ing.CloseAndReceive()
	// Key lifecycle and backup, which log progress.
	if _, err := s.admin.RotateKEK(ctx, connect.NewRequest(&fvv1.RotateKEKRequest{})); err != nil {
		t.Fatal(err)
	}
	rewrap, err := s.admin.RewrapKeys(ctx, connect.NewRequest(&fvv1.RewrapKeysRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for rewrap.Receive() {
	}
	if err := rewrap.Err(); err != nil {
		t.Fatal(err)
	}
	for _, part := range []fvv1.BackupPart{fvv1.BackupPart_BACKUP_PART_DATA, fvv1.BackupPart_BACKUP_PART_KEYSTORE} {
		b, err := s.admin.Backup(ctx, connect.NewRequest(&fvv1.BackupRequest{Part: part}))
		if err != nil {
			t.Fatal(err)
		}
		for b.Receive() {
		}
		if err := b.Err(); err != nil {
			t.Fatalf("backup %s: %v", part, err)
		}
	}
	if _, err := s.admin.Erase(ctx, connect.NewRequest(&fvv1.EraseRequest{Entity: "customer", Keys: []string{keyMarker}})); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"bootstrap admin", "rewrap finished"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the server did not log %q; the scan would prove less than it claims:\n%s", want, out)
		}
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
