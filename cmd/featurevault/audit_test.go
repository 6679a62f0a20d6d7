package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// fakeAuditLog answers ReadAudit as the server does, over records 1..head
// minus the missing ones, and like the server appends a record of its own
// after every read.
type fakeAuditLog struct {
	head    uint64
	missing map[uint64]bool
}

func (l *fakeAuditLog) record(seq uint64) *fvv1.AuditRecord {
	return &fvv1.AuditRecord{Seq: seq, Time: timestamppb.Now(), Principal: "admin", Action: "read", Outcome: "ok", Hash: fmt.Sprintf("%04x", seq)}
}

func (l *fakeAuditLog) read(_ context.Context, req *fvv1.ReadAuditRequest) ([]*fvv1.AuditRecord, error) {
	defer func() { l.head++ }() // the read itself is audited
	from, limit := req.GetFrom(), uint64(req.GetLimit())
	if req.GetTail() > 0 {
		from, limit = max(l.head-uint64(req.GetTail())+1, 1), uint64(req.GetTail())
	}
	var out []*fvv1.AuditRecord
	for s := max(from, 1); s < from+limit && s <= l.head; s++ {
		if !l.missing[s] {
			out = append(out, l.record(s))
		}
	}
	return out, nil
}

// headPointer answers as VerifyAudit's head does: the last sequence number
// appended, whether or not its record is still there.
func (l *fakeAuditLog) headPointer(context.Context) (uint64, error) {
	defer func() { l.head++ }()
	return l.head, nil
}

func TestExportAuditPagesToTheHeadItStartedAt(t *testing.T) {
	t.Parallel()
	gap := func(from, to uint64) map[uint64]bool {
		m := map[uint64]bool{}
		for s := from; s <= to; s++ {
			m[s] = true
		}
		return m
	}
	tests := []struct {
		name        string
		head        uint64
		missing     map[uint64]bool
		wantMissing string // warning on stderr; "" for none
	}{
		{"empty log", 0, nil, ""},
		{"one record", 1, nil, ""},
		{"exactly one page", auditPage, nil, ""},
		{"several pages", 2*auditPage + 17, nil, ""},
		{"a gap inside a page", 1500, gap(10, 12), "3 records between 1 and 1500 are missing"},
		{"a whole page missing", 3500, gap(900, 2100), "1201 records between 1 and 3500 are missing"},
		{"the last records missing", 1200, gap(1101, 1200), "100 records between 1 and 1201 are missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &fakeAuditLog{head: tt.head, missing: tt.missing}
			var out, stderr bytes.Buffer
			st, err := exportAudit(t.Context(), auditSource{read: l.read, head: l.headPointer}, &out, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			// When the last record is missing (or there is none), the head
			// comes from the head pointer, which by then covers the record
			// of export's own first read.
			head := tt.head
			if head == 0 || tt.missing[head] {
				head++
			}
			var want []uint64
			for s := uint64(1); s <= head; s++ {
				if !tt.missing[s] {
					want = append(want, s)
				}
			}
			var got []uint64
			for _, r := range readAudit(t, out.String()) {
				got = append(got, r.Seq)
			}
			if !slices.Equal(got, want) {
				t.Errorf("exported %d records (%v...), want %d, 1..%d without the missing ones", len(got), got[:min(len(got), 5)], len(want), head)
			}
			if st.records != len(want) || st.head != head {
				t.Errorf("stats = %+v, want %d records up to %d", st, len(want), head)
			}
			if tt.wantMissing == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tt.wantMissing) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantMissing)
			}
		})
	}
}

func TestParseAttrsReadsCommasBarsAndEquals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want map[string][]string
	}{
		{nil, map[string][]string{}},
		{[]string{"purpose=training"}, map[string][]string{"purpose": {"training"}}},
		{[]string{"purpose=training|analytics,env=prod"}, map[string][]string{"purpose": {"training", "analytics"}, "env": {"prod"}}},
		{[]string{"purpose=training", "env=prod|staging"}, map[string][]string{"purpose": {"training"}, "env": {"prod", "staging"}}},
	}
	for _, tt := range tests {
		got, err := parseAttrs(tt.in)
		if err != nil {
			t.Errorf("parseAttrs(%q): %v", tt.in, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("parseAttrs(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if len(got) > 0 && formatAttrs(attrsToProto(got)) != strings.Join(sortedAttrs(tt.in), ",") {
			t.Errorf("formatAttrs(parseAttrs(%q)) = %q, want the input with keys sorted", tt.in, formatAttrs(attrsToProto(got)))
		}
	}
}

// sortedAttrs splits --attr values into attributes, sorted by key.
func sortedAttrs(specs []string) []string {
	var parts []string
	for _, s := range specs {
		parts = append(parts, strings.Split(s, ",")...)
	}
	slices.Sort(parts)
	return parts
}
