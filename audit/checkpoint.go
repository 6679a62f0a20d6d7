package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/signature"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/featurevault/featurevault/kv"
)

// # Signed checkpoints
//
// The MAC chain proves nothing to someone without the MAC key, and its
// holder (the server's operator) can rewrite the whole chain. A signed
// checkpoint fixes that: it binds a record's sequence number to a
// keyless SHA-256 chain over every record up to it, and is signed with
// an Ed25519 key whose public half an auditor holds. Anyone with an
// export and the public keyset recomputes the chain and checks the
// signatures, with no server and no secret:
//
//	C(0) = 32 zero bytes
//	C(n) = SHA-256( "featurevault/audit/chain/v1" || C(n-1) || be64(n) || lp(stored(n)) )
//
// where stored(n) is record n's canonical encoding followed by lp(Hash),
// exactly what the log stores and what an exported JSON line re-encodes
// to. The signed message is
//
//	"featurevault/audit/checkpoint/v1" || be64(Seq) || lp(Head) || be64(Time as Unix ns) || be32(KeyID)
//
// Checkpoints are stored beside the records in the log's store, under
// "ac/" + be64(seq), with "ac-last" naming the newest; Verify and Export
// of records ignore them.

const (
	chainDomain      = "featurevault/audit/chain/v1"
	checkpointDomain = "featurevault/audit/checkpoint/v1"
)

var (
	prefixCheckpoint = []byte("ac/")
	lastCheckpoint   = []byte("ac-last")
)

// SignedCheckpoint says that the log's records 1..Seq chain to Head (the
// keyless SHA-256 chain), signed at Time with key KeyID of the checkpoint
// keyset. In JSON, Head is hex and Signature base64.
type SignedCheckpoint struct {
	Seq       uint64    `json:"seq"`
	Head      Digest    `json:"head"`
	Time      time.Time `json:"time"`
	KeyID     uint32    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// message returns the bytes the signature covers.
func (c *SignedCheckpoint) message() []byte {
	b := append([]byte(nil), checkpointDomain...)
	b = binary.BigEndian.AppendUint64(b, c.Seq)
	b = appendLP(b, c.Head)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time.UnixNano())) // #nosec G115 -- two's-complement round trip of UnixNano
	return binary.BigEndian.AppendUint32(b, c.KeyID)
}

// Verify checks c's signature with v, a verifier of the public checkpoint
// keyset. A checkpoint signed by a key the keyset lacks, or altered after
// signing, fails.
func (c *SignedCheckpoint) Verify(v tink.Verifier) error {
	if err := v.Verify(c.Signature, c.message()); err != nil {
		return fmt.Errorf("%w: checkpoint %d is not signed by a key of the public keyset, or was altered", ErrTampered, c.Seq)
	}
	return nil
}

// chainNext returns C(seq) from C(seq-1) and record seq's stored bytes.
func chainNext(prev []byte, seq uint64, stored []byte) []byte {
	h := sha256.New()
	h.Write([]byte(chainDomain))
	if prev == nil {
		prev = make([]byte, sha256.Size)
	}
	h.Write(prev)
	h.Write(binary.BigEndian.AppendUint64(nil, seq))
	h.Write(binary.AppendUvarint(nil, uint64(len(stored))))
	h.Write(stored)
	return h.Sum(nil)
}

// Checkpointer signs checkpoints of one log with an Ed25519 signature
// keyset (from keys.Keyring.NamedKeyset "audit-checkpoint", wrapped by the
// KEK). One server owns it, like the log. It is safe for concurrent use.
type Checkpointer struct {
	log  *Log
	now  func() time.Time
	sink string

	mu     sync.Mutex
	handle *keyset.Handle
	signer tink.Signer
	keyID  uint32
}

// NewCheckpointer returns a checkpointer of l signing with h, a private
// signature keyset. sink, when not empty, is a file each new checkpoint
// is appended to as a JSON line (created 0600): point it at storage the
// server's operators cannot rewrite, so a rewritten log contradicts it.
func NewCheckpointer(l *Log, h *keyset.Handle, sink string) (*Checkpointer, error) {
	c := &Checkpointer{log: l, now: l.now, sink: sink}
	if err := c.SetKeyset(h); err != nil {
		return nil, err
	}
	return c, nil
}

// SetKeyset replaces the signing keyset (after a rotation). Checkpoints
// signed before keep verifying with a public keyset that holds the old
// key.
func (c *Checkpointer) SetKeyset(h *keyset.Handle) error {
	s, err := signature.NewSigner(h)
	if err != nil {
		return fmt.Errorf("%w: the checkpoint keyset must hold a private signature key (Ed25519): %v", ErrInvalidArgument, err)
	}
	c.mu.Lock()
	c.handle, c.signer, c.keyID = h, s, h.KeysetInfo().GetPrimaryKeyId()
	c.mu.Unlock()
	return nil
}

// SetSink sets the file each new checkpoint is appended to ("" for none);
// see NewCheckpointer.
func (c *Checkpointer) SetSink(file string) {
	c.mu.Lock()
	c.sink = file
	c.mu.Unlock()
}

// KeyID returns the primary signing key's id.
func (c *Checkpointer) KeyID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keyID
}

// PublicKeyset returns the public half of the signing keyset, every key
// version, as Tink JSON: what an auditor verifies with.
func (c *Checkpointer) PublicKeyset() ([]byte, error) {
	c.mu.Lock()
	h := c.handle
	c.mu.Unlock()
	pub, err := h.Public()
	if err != nil {
		return nil, fmt.Errorf("audit: public checkpoint keyset: %w", err)
	}
	var buf bytes.Buffer
	if err := pub.WriteWithNoSecrets(keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("audit: write public checkpoint keyset: %w", err)
	}
	return buf.Bytes(), nil
}

// Latest returns the newest checkpoint, and false when there is none.
func (c *Checkpointer) Latest(ctx context.Context) (SignedCheckpoint, bool, error) {
	if err := ctx.Err(); err != nil {
		return SignedCheckpoint{}, false, err
	}
	v, err := c.log.store.Get([][]byte{lastCheckpoint})
	if err != nil {
		return SignedCheckpoint{}, false, fmt.Errorf("audit: read last checkpoint: %w", err)
	}
	if v[0] == nil {
		return SignedCheckpoint{}, false, nil
	}
	var cp SignedCheckpoint
	if err := json.Unmarshal(v[0], &cp); err != nil {
		return SignedCheckpoint{}, false, fmt.Errorf("%w: the last checkpoint", ErrMalformed)
	}
	return cp, true, nil
}

// Sign signs a checkpoint of the log's head, unless the newest checkpoint
// already covers it (then it returns that one and false). It extends the
// keyless chain from the newest checkpoint over the records after it,
// checking each one's MAC and link first: the server never signs records
// that do not verify under its own key (ErrTampered).
func (c *Checkpointer) Sign(ctx context.Context) (SignedCheckpoint, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	last, ok, err := c.Latest(ctx)
	if err != nil {
		return SignedCheckpoint{}, false, err
	}
	head, err := c.log.Head(ctx)
	if err != nil {
		return SignedCheckpoint{}, false, err
	}
	switch {
	case ok && head.Seq == last.Seq:
		return last, false, nil
	case ok && head.Seq < last.Seq:
		return SignedCheckpoint{}, false, fmt.Errorf("%w: the log's head is record %d but checkpoint %d was signed: the log was truncated or rolled back", ErrTampered, head.Seq, last.Seq)
	case head.Seq == 0:
		return SignedCheckpoint{}, false, fmt.Errorf("%w: the log is empty; there is nothing to checkpoint", ErrInvalidArgument)
	}
	chain, prevHash := []byte(nil), Digest(nil)
	from := uint64(1)
	if ok {
		chain, from = last.Head, last.Seq+1
		prev, err := c.log.store.Get([][]byte{recordKey(last.Seq)})
		if err != nil {
			return SignedCheckpoint{}, false, fmt.Errorf("audit: read record %d: %w", last.Seq, err)
		}
		if prev[0] == nil {
			return SignedCheckpoint{}, false, fmt.Errorf("%w: record %d, the last checkpointed, is missing", ErrTampered, last.Seq)
		}
		r, _, err := decodeStored(prev[0])
		if err != nil {
			return SignedCheckpoint{}, false, fmt.Errorf("%w: record %d", ErrMalformed, last.Seq)
		}
		prevHash = r.Hash
	}
	const page = 1000
	for seq := from; seq <= head.Seq; {
		n := min(uint64(page), head.Seq-seq+1)
		ks := make([][]byte, n)
		for i := range ks {
			ks[i] = recordKey(seq + uint64(i))
		}
		vs, err := c.log.store.Get(ks)
		if err != nil {
			return SignedCheckpoint{}, false, fmt.Errorf("audit: read records from %d: %w", seq, err)
		}
		for i, v := range vs {
			s := seq + uint64(i)
			if v == nil {
				return SignedCheckpoint{}, false, fmt.Errorf("%w: record %d is missing; run verify", ErrTampered, s)
			}
			r, content, err := decodeStored(v)
			if err != nil || r.Seq != s {
				return SignedCheckpoint{}, false, fmt.Errorf("%w: record %d is malformed; run verify", ErrTampered, s)
			}
			if err := c.log.mac.VerifyMAC(r.Hash, content); err != nil || !bytes.Equal(r.PrevHash, prevHash) {
				return SignedCheckpoint{}, false, fmt.Errorf("%w: record %d does not verify; run verify", ErrTampered, s)
			}
			chain, prevHash = chainNext(chain, s, v), r.Hash
		}
		seq += n
		if err := ctx.Err(); err != nil {
			return SignedCheckpoint{}, false, err
		}
	}
	cp := SignedCheckpoint{Seq: head.Seq, Head: chain, Time: c.now().UTC(), KeyID: c.keyID}
	if cp.Signature, err = c.signer.Sign(cp.message()); err != nil {
		return SignedCheckpoint{}, false, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	v, err := json.Marshal(cp)
	if err != nil {
		return SignedCheckpoint{}, false, fmt.Errorf("audit: encode checkpoint: %w", err)
	}
	if err := c.log.store.Apply([]kv.Op{{Key: checkpointKey(cp.Seq), Value: v}, {Key: lastCheckpoint, Value: v}}); err != nil {
		return SignedCheckpoint{}, false, fmt.Errorf("audit: store checkpoint %d: %w", cp.Seq, err)
	}
	if c.sink != "" {
		if err := appendLine(c.sink, v); err != nil {
			return cp, true, fmt.Errorf("audit: checkpoint %d is stored but not published to the sink: %w", cp.Seq, err)
		}
	}
	return cp, true, nil
}

func checkpointKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(prefixCheckpoint), seq)
}

// appendLine appends line and a newline to file, and syncs it.
func appendLine(file string, line []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) // #nosec G304 -- the operator names the sink (--audit-checkpoint-sink)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(bytes.Clone(line), '\n'))
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}

// MaxCheckpoints is the most checkpoints List returns in one call.
const MaxCheckpoints = 10_000

// List returns up to limit checkpoints after sequence number after, in
// order (limit at most MaxCheckpoints).
func (c *Checkpointer) List(ctx context.Context, after uint64, limit int) ([]SignedCheckpoint, error) {
	return ListCheckpoints(ctx, c.log, after, limit)
}

// ListCheckpoints is Checkpointer.List for a log opened without a signer
// (read-only tools).
func ListCheckpoints(ctx context.Context, l *Log, after uint64, limit int) ([]SignedCheckpoint, error) {
	if limit <= 0 || limit > MaxCheckpoints {
		limit = MaxCheckpoints
	}
	var out []SignedCheckpoint
	errFull := errors.New("full")
	err := l.store.Scan(prefixCheckpoint, func(e kv.Entry) error {
		if len(e.Key) != len(prefixCheckpoint)+8 {
			return nil
		}
		if binary.BigEndian.Uint64(e.Key[len(prefixCheckpoint):]) <= after {
			return nil
		}
		var cp SignedCheckpoint
		if err := json.Unmarshal(e.Value, &cp); err != nil {
			return fmt.Errorf("%w: checkpoint at key %x", ErrMalformed, e.Key)
		}
		out = append(out, cp)
		if len(out) >= limit {
			return errFull
		}
		return ctx.Err()
	})
	if err != nil && !errors.Is(err, errFull) {
		return nil, fmt.Errorf("audit: list checkpoints: %w", err)
	}
	return out, nil
}

// Run signs a checkpoint whenever everyRecords records (0: never by
// count) have been appended since the last one, or every interval (0:
// never by time) when any have, until ctx is done. Failures go to onErr.
func (c *Checkpointer) Run(ctx context.Context, interval time.Duration, everyRecords uint64, onErr func(error)) {
	if interval <= 0 && everyRecords == 0 {
		return
	}
	poll := time.Second
	if interval > 0 && interval < poll {
		poll = interval
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	lastSigned := c.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.tick(ctx, interval, everyRecords, &lastSigned); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// tick signs a checkpoint if one is due (see Run).
func (c *Checkpointer) tick(ctx context.Context, interval time.Duration, everyRecords uint64, lastSigned *time.Time) error {
	last, _, err := c.Latest(ctx)
	if err != nil {
		return err
	}
	head, err := c.log.Head(ctx)
	if err != nil {
		return err
	}
	if head.Seq <= last.Seq {
		return nil
	}
	due := everyRecords > 0 && head.Seq-last.Seq >= everyRecords
	due = due || interval > 0 && c.now().Sub(*lastSigned) >= interval
	if !due {
		return nil
	}
	if _, _, err := c.Sign(ctx); err != nil {
		return err
	}
	*lastSigned = c.now()
	return nil
}
