package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/signature"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Kinds of problem only the offline verifier reports.
const (
	// KindBadSignature: a checkpoint is not signed by a key of the public
	// keyset (an unknown key, or a checkpoint altered after signing).
	KindBadSignature Kind = "bad-signature"
	// KindChainMismatch: the records up to a checkpoint do not hash to
	// the checkpoint's head: one of them was edited, deleted, inserted or
	// reordered.
	KindChainMismatch Kind = "chain-mismatch"
	// KindNoCheckpoint: the export holds no checkpoint, so no signature
	// covers any record.
	KindNoCheckpoint Kind = "no-checkpoint"
)

// exportLine is one line of an export: a record, or {"checkpoint": ...}.
type exportLine struct {
	Checkpoint *SignedCheckpoint `json:"checkpoint"`
}

// WriteCheckpointLine writes cp as an export line, {"checkpoint": {...}}.
func WriteCheckpointLine(w io.Writer, cp SignedCheckpoint) error {
	b, err := json.Marshal(exportLine{Checkpoint: &cp})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// OfflineReport is the result of VerifyExport.
type OfflineReport struct {
	// Records is how many record lines the export holds; Last is the
	// highest sequence number among them.
	Records uint64 `json:"records"`
	Last    uint64 `json:"last"`
	// Checkpoints is how many checkpoints were checked (from the export
	// and given separately); Covered is the highest sequence number a
	// valid checkpoint covers: records 1..Covered are proven unchanged.
	Checkpoints int    `json:"checkpoints"`
	Covered     uint64 `json:"covered"`
	// Problems lists what was found, as Verify's do.
	Problems []Problem `json:"problems,omitempty"`
}

// OK reports whether the export verified clean.
func (r OfflineReport) OK() bool { return len(r.Problems) == 0 }

// ParsePublicKeyset reads a public checkpoint keyset in Tink JSON (as
// Checkpointer.PublicKeyset writes it) and returns its verifier. A keyset
// holding private keys is refused: an auditor must never need one.
func ParsePublicKeyset(b []byte) (tink.Verifier, error) {
	h, err := keyset.ReadWithNoSecrets(keyset.NewJSONReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: not a public Tink keyset in JSON (featurevault audit checkpoint --export writes one): %v", ErrInvalidArgument, err)
	}
	v, err := signature.NewVerifier(h)
	if err != nil {
		return nil, fmt.Errorf("%w: the keyset holds no signature public key: %v", ErrInvalidArgument, err)
	}
	return v, nil
}

// VerifyExport verifies an exported log (the JSON lines of `featurevault
// audit export`: records in order, each checkpoint after the record it
// covers) with v, the public checkpoint keyset, and nothing else: no
// server, no MAC key. extra are checkpoints kept elsewhere (a sink file),
// checked like those in the export.
//
// It recomputes every record's canonical encoding and the keyless chain,
// checks each checkpoint's signature and that the chain at its sequence
// number equals its head, and that sequence numbers run 1, 2, 3... with
// each record naming the one before's hash. It detects, up to the last
// valid checkpoint: an edited record, a deleted, inserted or reordered
// one, a log truncated before a checkpoint's record, and a checkpoint
// signed by a key the keyset lacks. Records after the last checkpoint are
// covered only by the chain links, which whoever holds the MAC key can
// forge, and a tail cut after the last checkpoint (with the checkpoints
// after it) goes unseen unless extra holds a later checkpoint: the report
// says how far signatures cover (Covered).
//
// Damage goes in the report; the error is for an unreadable input.
func VerifyExport(in io.Reader, v tink.Verifier, extra ...SignedCheckpoint) (OfflineReport, error) {
	var rep OfflineReport
	add := func(seq uint64, k Kind, format string, a ...any) {
		if len(rep.Problems) < MaxProblems {
			rep.Problems = append(rep.Problems, Problem{Seq: seq, Kind: k, Detail: fmt.Sprintf(format, a...)})
		}
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 2*MaxRecordLen+1<<20)
	chains := map[uint64][]byte{}
	var (
		chain    []byte
		prevHash Digest
		prevSeq  uint64
		cps      = append([]SignedCheckpoint(nil), extra...)
		line     int
	)
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var probe exportLine
		if err := json.Unmarshal(b, &probe); err != nil {
			add(prevSeq, KindMalformed, "line %d is not JSON", line)
			continue
		}
		if probe.Checkpoint != nil {
			cps = append(cps, *probe.Checkpoint)
			continue
		}
		var r Record
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(&r); err != nil {
			add(prevSeq, KindMalformed, "line %d is neither a record nor a checkpoint", line)
			continue
		}
		rep.Records++
		switch {
		case r.Seq == prevSeq+1:
		case r.Seq > prevSeq+1:
			add(prevSeq+1, KindGap, "records %d..%d are missing before line %d", prevSeq+1, r.Seq-1, line)
		default:
			add(r.Seq, KindSeqMismatch, "record %d comes after record %d (line %d): reordered or duplicated", r.Seq, prevSeq, line)
		}
		if !bytes.Equal(r.PrevHash, prevHash) {
			add(r.Seq, KindPrevMismatch, "the record's previous hash is not the hash of the record before it in the export")
		}
		stored := encodeStored(encodeContent(&r), r.Hash)
		chain = chainNext(chain, r.Seq, stored)
		if _, dup := chains[r.Seq]; !dup {
			chains[r.Seq] = chain
		}
		prevHash, prevSeq = r.Hash, r.Seq
		rep.Last = max(rep.Last, r.Seq)
	}
	if err := sc.Err(); err != nil {
		return OfflineReport{}, fmt.Errorf("audit: read export: %w", err)
	}
	rep.Checkpoints = len(cps)
	if len(cps) == 0 {
		add(0, KindNoCheckpoint, "the export holds no signed checkpoint: no signature covers any record (sign one with featurevault audit checkpoint)")
	}
	for _, cp := range cps {
		if err := cp.Verify(v); err != nil {
			add(cp.Seq, KindBadSignature, "checkpoint %d is not signed by a key of the public keyset (key id %d), or was altered", cp.Seq, cp.KeyID)
			continue
		}
		got, ok := chains[cp.Seq]
		switch {
		case !ok && cp.Seq > rep.Last:
			add(rep.Last+1, KindTruncated, "checkpoint %d is signed but the export ends at record %d: records were cut", cp.Seq, rep.Last)
		case !ok:
			add(cp.Seq, KindGap, "checkpoint %d names a record the export lacks", cp.Seq)
		case !bytes.Equal(got, cp.Head):
			add(cp.Seq, KindChainMismatch, "records 1..%d do not hash to checkpoint %d's head: a record up to it was edited, deleted, inserted or reordered", cp.Seq, cp.Seq)
		default:
			rep.Covered = max(rep.Covered, cp.Seq)
		}
	}
	return rep, nil
}
