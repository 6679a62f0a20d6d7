package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/store"
)

func TestMaxValueBytesBoundsEveryWritePath(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir(), func(o store.Options) store.Options { return o.WithMaxValueBytes(16) })
	defer s.Close()
	ctx := t.Context()
	tests := []struct {
		name  string
		field string
		value any
		ok    bool
	}{
		{"string at the limit", "email", strings.Repeat("a", 16), true},
		{"string over it", "email", strings.Repeat("a", 17), false},
		{"bytes over it", "avatar", make([]byte, 17), false},
		{"list at the limit", "embedding", make([]float32, 4), true},
		{"list over it", "embedding", make([]float32, 5), false},
		{"fixed-size value", "age", int64(1 << 40), true},
	}
	for _, tt := range tests {
		rows := []store.Row{{EntityKey: "c-" + tt.name, Values: map[string]any{tt.field: tt.value}}}
		_, werr := s.Write(ctx, "profile", rows)
		ires, ierr := s.Ingest(ctx, "profile", rows, store.IngestOptions{})
		if tt.ok {
			if werr != nil || ierr != nil || ires.RefusedRows != 0 {
				t.Errorf("%s: Write = %v, Ingest = %v (%d refused); want both accepted", tt.name, werr, ierr, ires.RefusedRows)
			}
			continue
		}
		if werr == nil || !strings.Contains(werr.Error(), "limit of 16 bytes per value") {
			t.Errorf("%s: Write error = %v, want it to name the limit of 16 bytes per value", tt.name, werr)
		}
		if ierr == nil && ires.RefusedRows != 1 {
			t.Errorf("%s: Ingest = %+v, %v; want the row refused", tt.name, ires, ierr)
		}
	}
}

func TestOpenRefusesAMaxValueBytesOutOfRange(t *testing.T) {
	t.Parallel()
	for _, n := range []int{-1, store.MaxValueBytes + 1} {
		s, err := store.Open(context.Background(), store.DefaultOptions(t.TempDir()).WithLogger(quietLog).WithSyncWrites(false).WithMaxValueBytes(n))
		if err == nil {
			s.Close()
			t.Errorf("Open with WithMaxValueBytes(%d) succeeded, want a refusal", n)
			continue
		}
		if !strings.Contains(err.Error(), "max value bytes") {
			t.Errorf("Open with WithMaxValueBytes(%d) = %v, want it to name the limit", n, err)
		}
	}
}
