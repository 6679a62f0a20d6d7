package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/signature"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
)

// checkpointed builds a log of 10 records with signed checkpoints at 5
// (key A) and 10 (key B, after a rotation), publishing them to a sink,
// and returns its export lines, the public keyset (both keys) and the
// sink file.
func checkpointed(t *testing.T) (lines []string, pub tink.Verifier, sink string) {
	t.Helper()
	l := openLog(t, newMemStore(t), newMAC(t), testOptions())
	h, err := keyset.NewHandle(signature.ED25519KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	sink = filepath.Join(t.TempDir(), "checkpoints.jsonl")
	cp, err := audit.NewCheckpointer(l, h, sink)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 5)
	if _, created, err := cp.Sign(t.Context()); err != nil || !created {
		t.Fatalf("Sign at 5: created %v, %v", created, err)
	}
	if _, created, err := cp.Sign(t.Context()); err != nil || created {
		t.Fatalf("Sign with no new record: created %v, %v; want the existing checkpoint", created, err)
	}
	m := keyset.NewManagerFromHandle(h)
	id, err := m.Add(signature.ED25519KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetPrimary(id); err != nil {
		t.Fatal(err)
	}
	h2, err := m.Handle()
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.SetKeyset(h2); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 5)
	last, _, err := cp.Sign(t.Context())
	if err != nil || last.Seq != 10 || last.KeyID != id {
		t.Fatalf("Sign at 10 = seq %d key %d, %v; want 10, %d", last.Seq, last.KeyID, err, id)
	}
	cps, err := cp.List(t.Context(), 0, 0)
	if err != nil || len(cps) != 2 {
		t.Fatalf("List = %d checkpoints, %v; want 2", len(cps), err)
	}
	var buf bytes.Buffer
	if err := l.Export(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	for _, rl := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		lines = append(lines, rl)
		var r audit.Record
		if err := json.Unmarshal([]byte(rl), &r); err != nil {
			t.Fatal(err)
		}
		for _, c := range cps {
			if c.Seq == r.Seq {
				var b bytes.Buffer
				if err := audit.WriteCheckpointLine(&b, c); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, strings.TrimSpace(b.String()))
			}
		}
	}
	pubJSON, err := cp.PublicKeyset()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pubJSON, []byte("PRIVATE")) || bytes.Contains(pubJSON, []byte("Private")) {
		t.Fatalf("the public keyset names a private key: %s", pubJSON)
	}
	if pub, err = audit.ParsePublicKeyset(pubJSON); err != nil {
		t.Fatal(err)
	}
	return lines, pub, sink
}

func verifyLines(t *testing.T, lines []string, pub tink.Verifier, extra ...audit.SignedCheckpoint) audit.OfflineReport {
	t.Helper()
	rep, err := audit.VerifyExport(strings.NewReader(strings.Join(lines, "\n")+"\n"), pub, extra...)
	if err != nil {
		t.Fatalf("VerifyExport: %v", err)
	}
	return rep
}

func kinds(rep audit.OfflineReport) []audit.Kind {
	var out []audit.Kind
	for _, p := range rep.Problems {
		if !slices.Contains(out, p.Kind) {
			out = append(out, p.Kind)
		}
	}
	return out
}

// recordLine returns the index in lines of record seq.
func recordLine(t *testing.T, lines []string, seq uint64) int {
	t.Helper()
	for i, l := range lines {
		if strings.HasPrefix(l, fmt.Sprintf(`{"seq":%d,`, seq)) {
			return i
		}
	}
	t.Fatalf("no line for record %d", seq)
	return -1
}

func TestVerifyExportAcceptsAnUntouchedExportWithOnlyThePublicKeyset(t *testing.T) {
	t.Parallel()
	lines, pub, _ := checkpointed(t)
	rep := verifyLines(t, lines, pub)
	if !rep.OK() || rep.Records != 10 || rep.Checkpoints != 2 || rep.Covered != 10 {
		t.Fatalf("report = %+v; want 10 records, 2 checkpoints, covered up to 10, no problem", rep)
	}
}

func TestVerifyExportDetectsTampering(t *testing.T) {
	t.Parallel()
	lines, pub, sink := checkpointed(t)
	other, err := keyset.NewHandle(signature.ED25519KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	otherSigner, err := signature.NewSigner(other)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func([]string) []string
		extra bool // pass the sink's checkpoints too
		want  []audit.Kind
	}{
		{"edit", func(ls []string) []string {
			i := recordLine(t, ls, 3)
			ls[i] = strings.Replace(ls[i], `"principal":"`, `"principal":"mallory`, 1)
			return ls
		}, false, []audit.Kind{audit.KindChainMismatch}},
		{"deletion", func(ls []string) []string {
			return slices.Delete(ls, recordLine(t, ls, 3), recordLine(t, ls, 3)+1)
		}, false, []audit.Kind{audit.KindGap, audit.KindPrevMismatch, audit.KindChainMismatch}},
		{"reordering", func(ls []string) []string {
			i, j := recordLine(t, ls, 3), recordLine(t, ls, 4)
			ls[i], ls[j] = ls[j], ls[i]
			return ls
		}, false, []audit.Kind{audit.KindGap, audit.KindPrevMismatch, audit.KindSeqMismatch, audit.KindChainMismatch}},
		{"records cut before a checkpoint", func(ls []string) []string {
			// Records 8..10 are cut; the checkpoint of 10 remains.
			out := slices.Clone(ls[:recordLine(t, ls, 8)])
			return append(out, ls[len(ls)-1])
		}, false, []audit.Kind{audit.KindTruncated}},
		{"tail and its checkpoint cut, a copy in the sink", func(ls []string) []string {
			return slices.Clone(ls[:recordLine(t, ls, 8)])
		}, true, []audit.Kind{audit.KindTruncated}},
		{"checkpoint signed by an unknown key", func(ls []string) []string {
			i := len(ls) - 1
			var l struct{ Checkpoint audit.SignedCheckpoint }
			if err := json.Unmarshal([]byte(ls[i]), &l); err != nil {
				t.Fatal(err)
			}
			forged := resign(t, l.Checkpoint, otherSigner)
			var b bytes.Buffer
			if err := audit.WriteCheckpointLine(&b, forged); err != nil {
				t.Fatal(err)
			}
			ls[i] = strings.TrimSpace(b.String())
			return ls
		}, false, []audit.Kind{audit.KindBadSignature}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var extra []audit.SignedCheckpoint
			if tt.extra {
				extra = readSink(t, sink)
			}
			rep := verifyLines(t, tt.edit(slices.Clone(lines)), pub, extra...)
			if got := kinds(rep); !slices.Equal(sorted(got), sorted(tt.want)) {
				t.Errorf("problem kinds = %v, want %v (%v)", got, tt.want, rep.Problems)
			}
		})
	}
}

// TestVerifyExportCannotSeeATailCutWithItsCheckpoint states the limit: a
// tail cut together with the checkpoints after the cut, and no copy of
// them elsewhere, leaves an export that verifies; the report says only
// how far signatures cover.
func TestVerifyExportCannotSeeATailCutWithItsCheckpoint(t *testing.T) {
	t.Parallel()
	lines, pub, _ := checkpointed(t)
	rep := verifyLines(t, lines[:recordLine(t, lines, 8)], pub)
	if !rep.OK() || rep.Covered != 5 || rep.Last != 7 {
		t.Fatalf("report = %+v; want clean, covered 5 of 7 records", rep)
	}
}

func TestVerifyExportRefusesAnExportWithoutCheckpoints(t *testing.T) {
	t.Parallel()
	lines, pub, _ := checkpointed(t)
	var records []string
	for _, l := range lines {
		if !strings.HasPrefix(l, `{"checkpoint"`) {
			records = append(records, l)
		}
	}
	if got := kinds(verifyLines(t, records, pub)); !slices.Equal(got, []audit.Kind{audit.KindNoCheckpoint}) {
		t.Errorf("kinds = %v, want [no-checkpoint]", got)
	}
}

func TestCheckpointerRefusesToSignATamperedLog(t *testing.T) {
	t.Parallel()
	s := newMemStore(t)
	l := openLog(t, s, newMAC(t), testOptions())
	h, err := keyset.NewHandle(signature.ED25519KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.NewCheckpointer(l, h, "")
	if err != nil {
		t.Fatal(err)
	}
	recs := appendN(t, l, 3)
	r := recs[1]
	r.Principal = "mallory"
	if err := s.Apply([]kv.Op{{Key: audit.RecordKey(2), Value: audit.EncodeStored(r, r.Hash)}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cp.Sign(t.Context()); !errors.Is(err, audit.ErrTampered) {
		t.Errorf("Sign over an edited record: err = %v, want ErrTampered", err)
	}
}

func resign(t *testing.T, c audit.SignedCheckpoint, s tink.Signer) audit.SignedCheckpoint {
	t.Helper()
	sig, err := s.Sign(audit.CheckpointMessage(c))
	if err != nil {
		t.Fatal(err)
	}
	c.Signature = sig
	return c
}

func readSink(t *testing.T, file string) []audit.SignedCheckpoint {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.SignedCheckpoint
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var c audit.SignedCheckpoint
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) != 2 {
		t.Fatalf("the sink holds %d checkpoints, want 2", len(out))
	}
	return out
}

func sorted(k []audit.Kind) []audit.Kind {
	k = slices.Clone(k)
	slices.Sort(k)
	return k
}

func TestCheckpointerRunSignsWhenRecordsArrive(t *testing.T) {
	t.Parallel()
	l := openLog(t, newMemStore(t), newMAC(t), audit.DefaultOptions())
	h, err := keyset.NewHandle(signature.ED25519KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	cp, err := audit.NewCheckpointer(l, h, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cp.Run(ctx, 10*time.Millisecond, 0, func(err error) { t.Errorf("Run: %v", err) })
	}()
	defer func() { cancel(); <-done }()
	appendN(t, l, 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		last, ok, err := cp.Latest(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if ok && last.Seq == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of record 3 after 10 s (latest %d, %v)", last.Seq, ok)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
