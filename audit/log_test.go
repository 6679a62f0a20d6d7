package audit_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
	"github.com/google/go-cmp/cmp"
)

func TestAppendAssignsSeqTimeAndChains(t *testing.T) {
	t.Parallel()
	l := openLog(t, newMemStore(t), newMAC(t), testOptions())
	in := sample(0)
	in.Seq, in.Hash, in.PrevHash = 99, audit.Digest("forged"), audit.Digest("forged")
	recs := []audit.Record{}
	for i := range 3 {
		r := sample(i)
		if i == 0 {
			r = in
		}
		got, err := l.Append(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, got)
	}
	for i, r := range recs {
		if got, want := r.Seq, uint64(i+1); got != want {
			t.Errorf("record %d: Seq = %d, want %d", i, got, want)
		}
		if got, want := r.Time, epoch.Add(time.Duration(i)*time.Second); !got.Equal(want) {
			t.Errorf("record %d: Time = %v, want %v", i, got, want)
		}
		if len(r.Hash) == 0 {
			t.Errorf("record %d: empty Hash", i)
		}
	}
	if len(recs[0].PrevHash) != 0 {
		t.Errorf("first record PrevHash = %s, want empty", recs[0].PrevHash)
	}
	for i := 1; i < len(recs); i++ {
		if !bytes.Equal(recs[i].PrevHash, recs[i-1].Hash) {
			t.Errorf("record %d PrevHash = %s, want previous Hash %s", i+1, recs[i].PrevHash, recs[i-1].Hash)
		}
	}
	rep, err := l.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Report{Records: 3, Head: audit.Checkpoint{Seq: 3, Hash: recs[2].Hash}}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("Verify report (-want +got):\n%s", diff)
	}
	if err := rep.Err(); err != nil {
		t.Errorf("Report.Err on a clean log = %v", err)
	}
	head, err := l.Head(t.Context())
	if err != nil || head.Seq != 3 || !bytes.Equal(head.Hash, recs[2].Hash) {
		t.Errorf("Head = %v, %v; want 3:%s", head, err, recs[2].Hash)
	}
}

func TestAppendRejectsInvalidRecords(t *testing.T) {
	t.Parallel()
	tooMany := make([]string, audit.MaxRecordLen/32)
	for i := range tooMany {
		tooMany[i] = strings.Repeat("ab", 16)
	}
	tests := []struct {
		name string
		edit func(*audit.Record)
	}{
		{"no action", func(r *audit.Record) { r.Action = "" }},
		{"no outcome", func(r *audit.Record) { r.Outcome = "" }},
		{"negative entity count", func(r *audit.Record) { r.Entities = -1 }},
		{"NaN epsilon", func(r *audit.Record) { r.Epsilon = math.NaN() }},
		{"infinite delta", func(r *audit.Record) { r.Delta = math.Inf(1) }},
		{"negative epsilon", func(r *audit.Record) { r.Epsilon = -0.1 }},
		{"raw entity key as subject", func(r *audit.Record) { r.Subjects = []string{"customer-42"} }},
		{"upper-case hex subject", func(r *audit.Record) { r.Subjects = []string{strings.Repeat("AB", 16)} }},
		{"short hex subject", func(r *audit.Record) { r.Subjects = []string{"abcdef"} }},
		{"record too large", func(r *audit.Record) { r.Subjects = tooMany }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := openLog(t, newMemStore(t), newMAC(t), testOptions())
			r := sample(0)
			tt.edit(&r)
			if _, err := l.Append(t.Context(), r); !errors.Is(err, audit.ErrInvalidRecord) {
				t.Fatalf("Append error = %v, want ErrInvalidRecord", err)
			}
			if head, _ := l.Head(t.Context()); head.Seq != 0 {
				t.Errorf("head after refused append = %v, want empty log", head)
			}
			// The log still works, and the refused record took no seq.
			got, err := l.Append(t.Context(), sample(0))
			if err != nil || got.Seq != 1 {
				t.Errorf("next Append = seq %d, %v; want seq 1", got.Seq, err)
			}
		})
	}
}

func TestAppendNormalizesWhatItStores(t *testing.T) {
	t.Parallel()
	l := openLog(t, newMemStore(t), newMAC(t), testOptions())
	r := sample(0)
	r.Principal = "al\xffice"
	r.Detail = strings.Repeat("é", audit.MaxDetailLen) // 2 bytes a rune
	r.Epsilon = math.Copysign(0, -1)
	r.Denied = []string{}
	got, err := l.Append(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := "al\uFFFDice"; got.Principal != want {
		t.Errorf("Principal = %q, want %q (invalid UTF-8 replaced)", got.Principal, want)
	}
	if len(got.Detail) > audit.MaxDetailLen || !strings.HasPrefix(r.Detail, got.Detail) || len(got.Detail) != audit.MaxDetailLen {
		t.Errorf("Detail cut to %d bytes, want %d on a rune boundary", len(got.Detail), audit.MaxDetailLen)
	}
	if math.Signbit(got.Epsilon) {
		t.Error("Epsilon stored as -0, want +0")
	}
	stored, err := l.Range(t.Context(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]audit.Record{got}, stored); diff != "" {
		t.Errorf("stored record differs from the one Append returned (-returned +stored):\n%s", diff)
	}
}

func TestAppendFailsClosedAndKeepsHead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// committed: the failed write in fact landed (lost acknowledgement).
		committed bool
	}{
		{"write refused", false},
		{"write landed but reported failure", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := &faultyStore{Store: newMemStore(t)}
			l := openLog(t, fs, newMAC(t), testOptions())
			before := appendN(t, l, 2)

			fs.set(errInjected, tt.committed)
			if _, err := l.Append(t.Context(), sample(2)); !errors.Is(err, errInjected) {
				t.Fatalf("Append on a failing store: err = %v, want the store's error", err)
			}
			head, err := l.Head(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			wantHead := uint64(2)
			if tt.committed {
				wantHead = 3
			}
			if head.Seq != wantHead {
				t.Errorf("head after failed append = %d, want %d", head.Seq, wantHead)
			}
			if !tt.committed && !bytes.Equal(head.Hash, before[1].Hash) {
				t.Errorf("head hash changed by a failed append")
			}

			fs.set(nil, false)
			got, err := l.Append(t.Context(), sample(3))
			if err != nil {
				t.Fatal(err)
			}
			if got.Seq != wantHead+1 {
				t.Errorf("append after recovery: Seq = %d, want %d (never overwrite a landed record)", got.Seq, wantHead+1)
			}
			rep, err := l.Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Records != wantHead+1 {
				t.Errorf("Verify = %d records, problems %v; want %d clean", rep.Records, rep.Problems, wantHead+1)
			}
		})
	}
}

func TestAppendRefusesReadOnlyAndCancelled(t *testing.T) {
	t.Parallel()
	s := newMemStore(t)
	ro := openLog(t, s, newMAC(t), testOptions().WithReadOnly(true))
	if _, err := ro.Append(t.Context(), sample(0)); !errors.Is(err, audit.ErrReadOnly) {
		t.Errorf("read-only Append error = %v, want ErrReadOnly", err)
	}
	l := openLog(t, s, newMAC(t), testOptions())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Append(ctx, sample(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Append error = %v, want context.Canceled", err)
	}
	if head, _ := l.Head(t.Context()); head.Seq != 0 {
		t.Errorf("head = %v after refused appends, want empty", head)
	}
}

func TestConcurrentAppendsKeepChainContiguous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		batch int
		store func(kv.Store) kv.Store
	}{
		{"one record per commit", 1, func(s kv.Store) kv.Store { return s }},
		{"group commit", 64, func(s kv.Store) kv.Store { return s }},
		// A store that refuses batches over 5 ops: batches are split.
		{"group commit split by store limit", 64, func(s kv.Store) kv.Store { return smallBatchStore{s, 5} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const workers, each = 8, 100
			l := openLog(t, tt.store(newMemStore(t)), newMAC(t), testOptions().WithMaxBatch(tt.batch))
			seqs := make(chan uint64, workers*each)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						r, err := l.Append(t.Context(), sample(w*each+i))
						if err != nil {
							t.Error(err)
							return
						}
						seqs <- r.Seq
					}
				})
			}
			wg.Wait()
			close(seqs)
			seen := make(map[uint64]bool)
			for s := range seqs {
				if seen[s] {
					t.Errorf("seq %d assigned twice", s)
				}
				seen[s] = true
			}
			for s := uint64(1); s <= workers*each; s++ {
				if !seen[s] {
					t.Errorf("seq %d never assigned", s)
				}
			}
			rep, err := l.Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Records != workers*each || rep.Head.Seq != workers*each {
				t.Errorf("Verify = %d records, head %d, problems %v; want %d clean", rep.Records, rep.Head.Seq, rep.Problems, workers*each)
			}
		})
	}
}

func TestLogPersistsAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newMAC(t)
	open := func() kv.Store {
		s, err := kv.OpenBadger(kv.DefaultOptions(dir))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	first := appendN(t, openLog(t, s, m, testOptions()), 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open()
	t.Cleanup(func() { s.Close() })
	l := openLog(t, s, m, testOptions())
	got, err := l.Append(t.Context(), sample(3))
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 4 || !bytes.Equal(got.PrevHash, first[2].Hash) {
		t.Errorf("append after reopen: seq %d prev %s; want seq 4 chained to %s", got.Seq, got.PrevHash, first[2].Hash)
	}
	rep, err := l.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != 4 {
		t.Errorf("Verify after reopen = %d records, problems %v; want 4 clean", rep.Records, rep.Problems)
	}
}

func TestOpenRefusesToAppendToADamagedLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(t *testing.T, s kv.Store, recs []audit.Record)
		want   error
	}{
		{"head deleted", func(t *testing.T, s kv.Store, _ []audit.Record) {
			apply(t, s, kv.Op{Key: audit.HeadKey, Delete: true})
		}, audit.ErrHeadMismatch},
		{"head rewound", func(t *testing.T, s kv.Store, recs []audit.Record) {
			apply(t, s, kv.Op{Key: audit.HeadKey, Value: audit.EncodeHead(audit.Checkpoint{Seq: 2, Hash: recs[1].Hash})})
		}, audit.ErrHeadMismatch},
		{"head past the end", func(t *testing.T, s kv.Store, recs []audit.Record) {
			apply(t, s, kv.Op{Key: audit.HeadKey, Value: audit.EncodeHead(audit.Checkpoint{Seq: 9, Hash: recs[2].Hash})})
		}, audit.ErrHeadMismatch},
		{"head garbage", func(t *testing.T, s kv.Store, _ []audit.Record) {
			apply(t, s, kv.Op{Key: audit.HeadKey, Value: []byte{1, 2}})
		}, audit.ErrHeadMismatch},
		{"last record edited", func(t *testing.T, s kv.Store, recs []audit.Record) {
			r := recs[2]
			r.Principal = "mallory"
			apply(t, s, kv.Op{Key: audit.RecordKey(3), Value: audit.EncodeStored(r, r.Hash)})
		}, audit.ErrKeyMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, m := newMemStore(t), newMAC(t)
			recs := appendN(t, openLog(t, s, m, testOptions()), 3)
			tt.damage(t, s, recs)
			if _, err := audit.Open(s, m, testOptions()); !errors.Is(err, tt.want) {
				t.Fatalf("Open for writing = %v, want %v", err, tt.want)
			}
			ro := openLog(t, s, m, testOptions().WithReadOnly(true))
			rep, err := ro.Verify(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Error("read-only Verify reports a clean log; want the damage located")
			}
		})
	}
}

func TestOpenWithAnotherKeyRefusesToAppend(t *testing.T) {
	t.Parallel()
	s := newMemStore(t)
	appendN(t, openLog(t, s, newMAC(t), testOptions()), 2)
	if _, err := audit.Open(s, newMAC(t), testOptions()); !errors.Is(err, audit.ErrKeyMismatch) {
		t.Errorf("Open with another key = %v, want ErrKeyMismatch", err)
	}
}

func TestOpenRejectsBadArguments(t *testing.T) {
	t.Parallel()
	s, m := newMemStore(t), newMAC(t)
	tests := []struct {
		name string
		open func() error
	}{
		{"nil store", func() error { _, err := audit.Open(nil, m, testOptions()); return err }},
		{"nil MAC", func() error { _, err := audit.Open(s, nil, testOptions()); return err }},
		{"zero options", func() error { _, err := audit.Open(s, m, audit.Options{}); return err }},
		{"zero batch", func() error { _, err := audit.Open(s, m, testOptions().WithMaxBatch(0)); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.open(); !errors.Is(err, audit.ErrInvalidArgument) {
				t.Errorf("Open = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestParseCheckpointRoundTrips(t *testing.T) {
	t.Parallel()
	c := audit.Checkpoint{Seq: 42, Hash: audit.Digest{0x01, 0xab, 0xff}}
	got, err := audit.ParseCheckpoint(c.String())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("ParseCheckpoint(%q) (-want +got):\n%s", c, diff)
	}
	for _, bad := range []string{"", "42", "0:ab", "x:ab", "42:", "42:zz"} {
		if _, err := audit.ParseCheckpoint(bad); !errors.Is(err, audit.ErrInvalidArgument) {
			t.Errorf("ParseCheckpoint(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

func apply(t *testing.T, s kv.Store, ops ...kv.Op) {
	t.Helper()
	if err := s.Apply(ops); err != nil {
		t.Fatal(err)
	}
}

// panickyStore panics in Apply while armed.
type panickyStore struct {
	kv.Store
	armed *atomic.Bool
}

func (p panickyStore) Apply(ops []kv.Op) error {
	if p.armed.Load() {
		panic("store bug")
	}
	return p.Store.Apply(ops)
}

func TestAppendSurvivesAPanickingStore(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	l := openLog(t, panickyStore{newMemStore(t), &armed}, newMAC(t), testOptions())
	appendN(t, l, 1)
	armed.Store(true)
	if _, err := l.Append(t.Context(), sample(1)); err == nil {
		t.Fatal("Append through a panicking store succeeded; want an error")
	}
	armed.Store(false)
	got, err := l.Append(t.Context(), sample(2))
	if err != nil || got.Seq != 2 {
		t.Errorf("Append after the panic = seq %d, %v; want seq 2 (the log must not stay locked)", got.Seq, err)
	}
}
