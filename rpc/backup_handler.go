package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// BackupChunkBytes is the size of the chunks Backup streams (the last one
// may be shorter).
const BackupChunkBytes = 256 << 10

var errBackupDenied = errors.New("the backup action is not granted to this principal; an admin grants it with `featurevault policy grant ROLE --action backup --on '*'`")

// backupPartNames spells the parts as the audit log and the CLI do.
var backupPartNames = map[fvv1.BackupPart]string{
	fvv1.BackupPart_BACKUP_PART_DATA:     "data",
	fvv1.BackupPart_BACKUP_PART_KEYSTORE: "keystore",
	fvv1.BackupPart_BACKUP_PART_AUDIT:    "audit",
}

// Backup streams a consistent snapshot of one part of the running store
// (or, with since, what changed after an earlier backup of it) in chunks of
// BackupChunkBytes, then a last message with the size, SHA-256 and next
// since of the whole stream. It needs the backup action on "*" and is
// recorded in the audit log like every admin call; the record names the
// part and since, never the bytes. The stream is ciphertext, blind indexes
// and wrapped keys: it holds no cleartext key, value or raw entity key.
func (h *adminHandler) Backup(ctx context.Context, req *connect.Request[fvv1.BackupRequest], stream *connect.ServerStream[fvv1.BackupResponse]) error {
	m := req.Msg
	name, known := backupPartNames[m.Part]
	detail := "back up the " + name + " part"
	if !known {
		detail = "back up an unknown part"
	}
	if m.Since > 0 {
		detail += fmt.Sprintf(" since version %d", m.Since)
	}
	done, err := h.authorize(ctx, req.Spec(), req.Header(), audit.Record{Detail: detail}, policy.ActionBackup, errBackupDenied)
	if err != nil {
		return err
	}
	var dump func(io.Writer, uint64) (uint64, error)
	switch m.Part {
	case fvv1.BackupPart_BACKUP_PART_DATA:
		dump = h.store.Backup
	case fvv1.BackupPart_BACKUP_PART_KEYSTORE:
		dump = h.store.Keyring().Backup
	case fvv1.BackupPart_BACKUP_PART_AUDIT:
		dump = h.srv.backend.Audit.Backup
	default:
		return done(invalid(fmt.Errorf("backup part %s is not one of data, keystore or audit", m.Part)))
	}
	w := &chunkWriter{ctx: ctx, send: stream.Send, sum: sha256.New()}
	next, err := dump(w, m.Since)
	if err == nil {
		err = w.flush()
	}
	if err == nil {
		uri := h.store.Keyring().KMSURI()
		last := &fvv1.BackupResponse{Finished: true, NextSince: next, Size: w.size, Sha256: hex.EncodeToString(w.sum.Sum(nil)), LocalKms: keys.IsLocalKMS(uri)}
		if !last.LocalKms {
			last.KmsUri = uri
		}
		err = stream.Send(last)
	}
	h.log.Info("backup", "part", name, "since", m.Since, "next_since", next, "bytes", w.size, "ok", err == nil)
	if errors.Is(err, kv.ErrNoBackup) {
		err = connect.NewError(connect.CodeUnimplemented, err)
	}
	return done(keysError(err))
}

// chunkWriter is the io.Writer a backup is dumped into: it hashes and
// counts every byte and sends it on in chunks of BackupChunkBytes. A send
// that fails (the client went away) or a done context stops the dump.
type chunkWriter struct {
	ctx  context.Context
	send func(*fvv1.BackupResponse) error
	sum  hash.Hash
	buf  []byte
	size uint64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, BackupChunkBytes)
		}
		k := min(len(p), BackupChunkBytes-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == BackupChunkBytes {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush sends what is buffered as one chunk.
func (w *chunkWriter) flush() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if len(w.buf) == 0 {
		return nil
	}
	w.sum.Write(w.buf)
	w.size += uint64(len(w.buf))
	err := w.send(&fvv1.BackupResponse{Chunk: w.buf})
	w.buf = nil // the message owns the sent slice until it is marshalled
	return err
}
