package rpc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/kv"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
)

// backupClient is the part of an AdminService client these tests call.
type backupClient interface {
	Backup(context.Context, *connect.Request[fvv1.BackupRequest]) (*connect.ServerStreamForClient[fvv1.BackupResponse], error)
}

// newAdminClient returns an AdminService client of s that authenticates
// with token.
func newAdminClient(s *server, token string) featurevaultv1connect.AdminServiceClient {
	return featurevaultv1connect.NewAdminServiceClient(http.DefaultClient, s.url, s.as(token, ""))
}

// backupStream calls Backup and returns its chunks and its last message.
func backupStream(t *testing.T, admin backupClient, part fvv1.BackupPart, since uint64) ([][]byte, *fvv1.BackupResponse, error) {
	t.Helper()
	stream, err := admin.Backup(t.Context(), connect.NewRequest(&fvv1.BackupRequest{Part: part, Since: since}))
	if err != nil {
		return nil, nil, err
	}
	defer stream.Close()
	var chunks [][]byte
	var last *fvv1.BackupResponse
	for stream.Receive() {
		if m := stream.Msg(); m.GetFinished() {
			last = m
		} else {
			chunks = append(chunks, m.GetChunk())
		}
	}
	return chunks, last, stream.Err()
}

// scanAll returns every entry of s.
func scanAll(t *testing.T, s kv.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.Scan(nil, func(e kv.Entry) error { out[string(e.Key)] = string(e.Value); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackupStreamsChunksWhoseDigestTheLastMessageStates(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	applySpec(t, s)
	// Enough incompressible bytes for several chunks.
	var rows []*fvv1.Row
	for i := range 48 {
		r := sampleRow(fmt.Sprintf("c-%d", i))
		avatar := make([]byte, 16<<10)
		_, _ = rand.Read(avatar)
		r.Values["avatar"] = &fvv1.Value{Kind: &fvv1.Value_BytesValue{BytesValue: avatar}}
		rows = append(rows, r)
	}
	if _, err := s.feature.WriteFeatures(t.Context(), connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: rows})); err != nil {
		t.Fatal(err)
	}

	chunks, last, err := backupStream(t, s.admin, fvv1.BackupPart_BACKUP_PART_DATA, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 {
		t.Fatalf("backup of ~800 KiB came in %d chunks; want at least 3 of %d bytes", len(chunks), rpc.BackupChunkBytes)
	}
	var all bytes.Buffer
	for i, c := range chunks {
		if i < len(chunks)-1 && len(c) != rpc.BackupChunkBytes {
			t.Errorf("chunk %d is %d bytes; want %d (only the last may be shorter)", i, len(c), rpc.BackupChunkBytes)
		}
		all.Write(c)
	}
	sum := sha256.Sum256(all.Bytes())
	if last == nil || last.GetSize() != uint64(all.Len()) || last.GetSha256() != hex.EncodeToString(sum[:]) || last.GetNextSince() == 0 {
		t.Fatalf("last message %v; want size %d, the SHA-256 of the chunks and a next since", last, all.Len())
	}
	if !last.GetLocalKms() || last.GetKmsUri() != "" {
		t.Errorf("last message: local KMS %v, KMS URI %q; want local and no URI (the local root path is not reported)", last.GetLocalKms(), last.GetKmsUri())
	}

	restored, err := kv.OpenBadger(kv.DefaultOptions(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if err := restored.Load(&all); err != nil {
		t.Fatal(err)
	}
	if got, want := scanAll(t, restored), scanAll(t, s.store.KV()); !maps.Equal(got, want) {
		t.Errorf("the loaded backup holds %d entries; the live data store %d, or they differ", len(got), len(want))
	}

	// Nothing changed in the data since: an incremental backup is empty.
	chunks, again, err := backupStream(t, s.admin, fvv1.BackupPart_BACKUP_PART_DATA, last.GetNextSince())
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 0 || again.GetSize() != 0 || again.GetNextSince() != last.GetNextSince() {
		t.Errorf("incremental backup with no change: %d chunks, size %d, next %d; want none, 0, %d", len(chunks), again.GetSize(), again.GetNextSince(), last.GetNextSince())
	}

	for _, part := range []fvv1.BackupPart{fvv1.BackupPart_BACKUP_PART_KEYSTORE, fvv1.BackupPart_BACKUP_PART_AUDIT} {
		chunks, last, err := backupStream(t, s.admin, part, 0)
		if err != nil || len(chunks) == 0 || last.GetSize() == 0 {
			t.Errorf("backup of %s: %d chunks, last %v, err %v; want a non-empty stream", part, len(chunks), last, err)
		}
	}
}

func TestBackupRefusalsAreClearAndAudited(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir())
	created, err := s.admin.CreatePrincipal(t.Context(), connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "ops", Roles: []string{"ops"}}))
	if err != nil {
		t.Fatal(err)
	}
	// ops holds admin but not backup: the two are separate rights.
	if _, err := s.admin.GrantPolicy(t.Context(), connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: &fvv1.Rule{Role: "ops", Action: fvv1.Action_ACTION_ADMIN, Object: "*"}})); err != nil {
		t.Fatal(err)
	}
	opsAdmin := newAdminClient(s, created.Msg.GetToken())
	tests := []struct {
		name     string
		admin    backupClient
		part     fvv1.BackupPart
		wantCode connect.Code
		wantMsg  string
	}{
		{"unknown part", s.admin, fvv1.BackupPart_BACKUP_PART_UNSPECIFIED, connect.CodeInvalidArgument, "not one of data, keystore or audit"},
		{"admin without backup", opsAdmin, fvv1.BackupPart_BACKUP_PART_KEYSTORE, connect.CodePermissionDenied, "--action backup --on '*'"},
	}
	for _, tt := range tests { // in order: the audit records are checked below
		t.Run(tt.name, func(t *testing.T) {
			chunks, _, err := backupStream(t, tt.admin, tt.part, 0)
			if connect.CodeOf(err) != tt.wantCode || !strings.Contains(err.Error(), tt.wantMsg) || len(chunks) != 0 {
				t.Errorf("Backup: %d chunks, err %v; want %v naming %q and no bytes", len(chunks), err, tt.wantCode, tt.wantMsg)
			}
		})
	}
	tail, err := s.admin.ReadAudit(t.Context(), connect.NewRequest(&fvv1.ReadAuditRequest{Tail: 10}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tail.Msg.GetRecords() {
		if r.GetAction() == "admin:Backup" {
			got = append(got, r.GetPrincipal()+" "+r.GetOutcome())
		}
	}
	// An authorised call is recorded before it acts, then its failure.
	if want := []string{"admin ok", "admin invalid_argument", "ops permission_denied"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audited Backup calls = %q; want %q", got, want)
	}
}
