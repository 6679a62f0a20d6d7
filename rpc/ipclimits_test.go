package rpc

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/arrowio"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// claimingStream is an Arrow IPC stream of view profile whose record batch
// header claims a body of claim bytes and sends none: a few hundred bytes
// that, read with ipc.NewReader, made the server allocate the claim
// (1 TiB: "fatal error: runtime: out of memory", the process gone).
func claimingStream(t *testing.T, env *arrowEnv, claim uint64) []byte {
	t.Helper()
	rec := rowsRecord(t, env.mem, env, "profile", profileRows(2, "claim"))
	defer rec.Release()
	schema, err := arrowio.SchemaMessage(rec.Schema(), env.mem)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := arrowio.BatchMessage(nil, rec, env.mem)
	if err != nil {
		t.Fatal(err)
	}
	metaLen := int(binary.LittleEndian.Uint32(batch[4:8]))
	var body [8]byte
	binary.LittleEndian.PutUint64(body[:], uint64(len(batch)-8-metaLen))
	at := bytes.Index(batch[8:8+metaLen], body[:])
	if at < 0 {
		t.Fatal("body length not found in the batch metadata")
	}
	binary.LittleEndian.PutUint64(batch[8+at:], claim)
	return append(schema, batch[:8+metaLen]...)
}

func TestArrowCallsRefuseABatchClaimingAHugeBody(t *testing.T) {
	t.Parallel()
	env := newArrowEnv(t, nil)
	stream := claimingStream(t, env, 1<<40)

	t.Run("IngestArrow", func(t *testing.T) {
		t.Parallel()
		cs := env.raw.IngestArrow(t.Context())
		if err := cs.Send(&fvv1.IngestArrowRequest{View: "profile", ArrowIpc: stream}); err != nil {
			t.Fatal(err)
		}
		_, err := cs.CloseAndReceive()
		if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "exceeds the size limit") || !strings.Contains(err.Error(), "--max-ingest-batch-bytes") {
			t.Errorf("error %v; want ResourceExhausted saying the batch exceeds the size limit set by --max-ingest-batch-bytes", err)
		}
	})
	t.Run("GetHistoricalFeatures", func(t *testing.T) {
		t.Parallel()
		ss, err := env.raw.GetHistoricalFeatures(t.Context(), connect.NewRequest(&fvv1.GetHistoricalFeaturesRequest{
			Features: []string{"profile:age"}, EntityRows: stream, FullFeatureNames: true,
		}))
		if err != nil {
			t.Fatal(err)
		}
		for ss.Receive() {
		}
		if err := ss.Err(); connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "exceeds the size limit") || !strings.Contains(err.Error(), "--max-ingest-batch-bytes") {
			t.Errorf("error %v; want ResourceExhausted saying the batch exceeds the size limit set by --max-ingest-batch-bytes", err)
		}
		_ = ss.Close()
	})
}
