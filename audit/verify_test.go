package audit_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
	"github.com/google/go-cmp/cmp"
)

// get returns the stored bytes of record seq.
func get(t *testing.T, s kv.Store, seq uint64) []byte {
	t.Helper()
	v, err := s.Get([][]byte{audit.RecordKey(seq)})
	if err != nil || v[0] == nil {
		t.Fatalf("record %d not stored: %v", seq, err)
	}
	return v[0]
}

// forge returns a record an attacker without the MAC key could write: the
// content they want, chained to prev, "hashed" with plain SHA-256.
func forge(seq uint64, prev []byte) (audit.Record, []byte) {
	r := sample(0)
	r.Seq, r.Time, r.PrevHash = seq, epoch, prev
	r.Principal, r.Outcome = "mallory", "ok"
	sum := sha256.Sum256(audit.EncodeContent(r))
	return r, audit.EncodeStored(r, sum[:])
}

func head(c audit.Checkpoint) kv.Op { return kv.Op{Key: audit.HeadKey, Value: audit.EncodeHead(c)} }

func cp(r audit.Record) audit.Checkpoint { return audit.Checkpoint{Seq: r.Seq, Hash: r.Hash} }

// TestVerifyLocatesEachKindOfTampering tampers with a six-record log the way
// someone with the data directory but not the MAC key could, and checks that
// Verify reports exactly the expected problems at the expected records.
func TestVerifyLocatesEachKindOfTampering(t *testing.T) {
	t.Parallel()
	const n = 6
	tests := []struct {
		name   string
		tamper func(t *testing.T, s kv.Store, recs []audit.Record)
		known  func(recs []audit.Record) []audit.Checkpoint
		want   []problem
	}{
		{
			name:   "untouched",
			tamper: func(*testing.T, kv.Store, []audit.Record) {},
			want:   nil,
		},
		{
			name: "field edited in the stored bytes",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				b := get(t, s, 3) // sample(2): principal "bob"
				edited := bytes.Replace(b, []byte("bob"), []byte("eve"), 1)
				if bytes.Equal(b, edited) {
					t.Fatal("principal not found in stored bytes")
				}
				apply(t, s, kv.Op{Key: audit.RecordKey(3), Value: edited})
			},
			want: []problem{{3, audit.KindHashMismatch}},
		},
		{
			name: "outcome edited and re-encoded",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				r := recs[2]
				r.Outcome = "ok"
				apply(t, s, kv.Op{Key: audit.RecordKey(3), Value: audit.EncodeStored(r, r.Hash)})
			},
			want: []problem{{3, audit.KindHashMismatch}},
		},
		{
			name: "bytes made unreadable",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: audit.RecordKey(3), Value: get(t, s, 3)[:20]})
			},
			want: []problem{{3, audit.KindMalformed}},
		},
		{
			name: "middle record deleted",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: audit.RecordKey(3), Delete: true})
			},
			want: []problem{{3, audit.KindGap}},
		},
		{
			name: "first two records deleted",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: audit.RecordKey(1), Delete: true}, kv.Op{Key: audit.RecordKey(2), Delete: true})
			},
			want: []problem{{1, audit.KindGap}},
		},
		{
			name: "forged record appended with a plain SHA-256 hash",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				_, b := forge(n+1, recs[n-1].Hash)
				fr, _, err := audit.DecodeStored(b)
				if err != nil {
					t.Fatal(err)
				}
				apply(t, s, kv.Op{Key: audit.RecordKey(n + 1), Value: b}, head(cp(fr)))
			},
			want: []problem{{7, audit.KindHashMismatch}},
		},
		{
			name: "forged record inserted, later records shifted up",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				ops := []kv.Op{}
				for seq := uint64(n); seq >= 4; seq-- {
					ops = append(ops, kv.Op{Key: audit.RecordKey(seq + 1), Value: get(t, s, seq)})
				}
				_, b := forge(4, recs[2].Hash)
				ops = append(ops, kv.Op{Key: audit.RecordKey(4), Value: b}, head(audit.Checkpoint{Seq: n + 1, Hash: recs[n-1].Hash}))
				apply(t, s, ops...)
			},
			want: []problem{
				{4, audit.KindHashMismatch},
				{5, audit.KindSeqMismatch}, {5, audit.KindPrevMismatch},
				{6, audit.KindSeqMismatch},
				{7, audit.KindSeqMismatch},
			},
		},
		{
			name: "record replaced by another valid record",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: audit.RecordKey(4), Value: get(t, s, 2)})
			},
			want: []problem{{4, audit.KindSeqMismatch}, {4, audit.KindPrevMismatch}, {5, audit.KindPrevMismatch}},
		},
		{
			name: "two records swapped",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				r3, r4 := get(t, s, 3), get(t, s, 4)
				apply(t, s, kv.Op{Key: audit.RecordKey(3), Value: r4}, kv.Op{Key: audit.RecordKey(4), Value: r3})
			},
			want: []problem{
				{3, audit.KindSeqMismatch}, {3, audit.KindPrevMismatch},
				{4, audit.KindSeqMismatch}, {4, audit.KindPrevMismatch},
				{5, audit.KindPrevMismatch},
			},
		},
		{
			name: "tail cut, head left",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: audit.RecordKey(5), Delete: true}, kv.Op{Key: audit.RecordKey(6), Delete: true})
			},
			want: []problem{{5, audit.KindTruncated}},
		},
		{
			name: "every record deleted, head left",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				for seq := uint64(1); seq <= n; seq++ {
					apply(t, s, kv.Op{Key: audit.RecordKey(seq), Delete: true})
				}
			},
			want: []problem{{1, audit.KindTruncated}},
		},
		{
			// The documented limit: without a checkpoint this is invisible...
			name: "tail cut and head rewound, no checkpoint",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				apply(t, s, kv.Op{Key: audit.RecordKey(5), Delete: true}, kv.Op{Key: audit.RecordKey(6), Delete: true}, head(cp(recs[3])))
			},
			want: nil,
		},
		{
			// ...and an exported checkpoint makes it visible.
			name: "tail cut and head rewound, checkpoint exported",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				apply(t, s, kv.Op{Key: audit.RecordKey(5), Delete: true}, kv.Op{Key: audit.RecordKey(6), Delete: true}, head(cp(recs[3])))
			},
			known: func(recs []audit.Record) []audit.Checkpoint { return []audit.Checkpoint{cp(recs[1]), cp(recs[5])} },
			want:  []problem{{5, audit.KindTruncated}},
		},
		{
			name: "whole log deleted, checkpoint exported",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				ops := []kv.Op{{Key: audit.HeadKey, Delete: true}}
				for seq := uint64(1); seq <= n; seq++ {
					ops = append(ops, kv.Op{Key: audit.RecordKey(seq), Delete: true})
				}
				apply(t, s, ops...)
			},
			known: func(recs []audit.Record) []audit.Checkpoint { return []audit.Checkpoint{cp(recs[2])} },
			want:  []problem{{1, audit.KindTruncated}},
		},
		{
			name:   "checkpoint hash differs",
			tamper: func(*testing.T, kv.Store, []audit.Record) {},
			known: func(recs []audit.Record) []audit.Checkpoint {
				return []audit.Checkpoint{{Seq: 2, Hash: recs[1].Hash[:4]}}
			},
			want: []problem{{2, audit.KindCheckpointMismatch}},
		},
		{
			name: "head hash edited",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				apply(t, s, head(audit.Checkpoint{Seq: n, Hash: recs[0].Hash}))
			},
			want: []problem{{6, audit.KindHeadMismatch}},
		},
		{
			name: "head rewound over intact records",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				apply(t, s, head(cp(recs[3])))
			},
			want: []problem{{5, audit.KindBeyondHead}},
		},
		{
			name: "head rewound with a wrong hash",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				apply(t, s, head(audit.Checkpoint{Seq: 4, Hash: recs[0].Hash}))
			},
			want: []problem{{5, audit.KindBeyondHead}, {4, audit.KindHeadMismatch}},
		},
		{
			name: "head moved past the end",
			tamper: func(t *testing.T, s kv.Store, recs []audit.Record) {
				apply(t, s, head(audit.Checkpoint{Seq: n + 3, Hash: recs[n-1].Hash}))
			},
			want: []problem{{7, audit.KindTruncated}},
		},
		{
			name: "head deleted",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: audit.HeadKey, Delete: true})
			},
			want: []problem{{6, audit.KindHeadMissing}},
		},
		{
			name: "head made unreadable",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: audit.HeadKey, Value: []byte{0, 0, 0}})
			},
			want: []problem{{6, audit.KindHeadMismatch}},
		},
		{
			name: "stray key under the log prefix",
			tamper: func(t *testing.T, s kv.Store, _ []audit.Record) {
				apply(t, s, kv.Op{Key: []byte("a/x"), Value: []byte("?")})
			},
			want: []problem{{6, audit.KindMalformed}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, m := newMemStore(t), newMAC(t)
			recs := appendN(t, openLog(t, s, m, testOptions()), n)
			tt.tamper(t, s, recs)
			var known []audit.Checkpoint
			if tt.known != nil {
				known = tt.known(recs)
			}
			l := openLog(t, s, m, testOptions().WithReadOnly(true))
			rep, err := l.Verify(t.Context(), known...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, problemsOf(rep)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\nreport: %v", diff, rep.Problems)
			}
			if gotErr := rep.Err(); (gotErr != nil) != (len(tt.want) > 0) {
				t.Errorf("Report.Err() = %v, want an error iff problems were expected", gotErr)
			}
			for _, p := range rep.Problems {
				if p.Detail == "" || strings.Contains(p.Detail, "mallory") {
					t.Errorf("problem detail %q: want a non-empty description without record contents", p.Detail)
				}
			}
		})
	}
}

// TestVerifyNeedsTheMACKey checks that a log written under one key does not
// verify under another, and that a complete log forged with another key (by
// someone who rewrote the whole data directory) fails under the real one.
func TestVerifyNeedsTheMACKey(t *testing.T) {
	t.Parallel()
	real, other := newMAC(t), newMAC(t)

	s := newMemStore(t)
	appendN(t, openLog(t, s, real, testOptions()), 3)
	rep, err := openLog(t, s, other, testOptions().WithReadOnly(true)).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []problem{{1, audit.KindHashMismatch}, {2, audit.KindHashMismatch}, {3, audit.KindHashMismatch}}
	if diff := cmp.Diff(want, problemsOf(rep)); diff != "" {
		t.Errorf("verify under another key: problems (-want +got):\n%s", diff)
	}

	forged := newMemStore(t)
	appendN(t, openLog(t, forged, other, testOptions()), 3)
	rep, err = openLog(t, forged, real, testOptions().WithReadOnly(true)).Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, problemsOf(rep)); diff != "" {
		t.Errorf("log forged with another key: problems (-want +got):\n%s", diff)
	}
}

// TestVerifyDetectsARolledBackLogRewrittenByTheServer: a server restored
// from an old backup appends new records over the lost ones. The chain is
// valid (the server has the key), but an exported checkpoint catches it.
func TestVerifyDetectsARolledBackLogRewrittenByTheServer(t *testing.T) {
	t.Parallel()
	s, m := newMemStore(t), newMAC(t)
	recs := appendN(t, openLog(t, s, m, testOptions()), 6)
	checkpoint := cp(recs[5])
	apply(t, s, kv.Op{Key: audit.RecordKey(5), Delete: true}, kv.Op{Key: audit.RecordKey(6), Delete: true}, head(cp(recs[3])))
	l := openLog(t, s, m, testOptions())
	for i := range 3 {
		if _, err := l.Append(t.Context(), sample(i+10)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := l.Verify(t.Context())
	if err != nil || !rep.OK() {
		t.Fatalf("without checkpoint: %v, %v; want a clean (consistent) log", rep.Problems, err)
	}
	rep, err = l.Verify(t.Context(), checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]problem{{6, audit.KindCheckpointMismatch}}, problemsOf(rep)); diff != "" {
		t.Errorf("with checkpoint: problems (-want +got):\n%s", diff)
	}
}

func TestVerifyEmptyLogIsClean(t *testing.T) {
	t.Parallel()
	l := openLog(t, newMemStore(t), newMAC(t), testOptions())
	rep, err := l.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(audit.Report{}, rep); diff != "" {
		t.Errorf("empty log report (-want +got):\n%s", diff)
	}
}
