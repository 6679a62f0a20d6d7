package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

func TestServeRefusesLimitFlagsOutOfRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--max-entities-per-read", "0"}, "--max-entities-per-read 0: give a number from 1 to 1000"},
		{[]string{"--max-entities-per-read", "1001"}, "--max-entities-per-read 1001: give a number from 1 to 1000"},
		{[]string{"--max-rows-per-write", "-5"}, "--max-rows-per-write -5: give a number from 1 to 10000"},
		{[]string{"--max-rows-per-write", "10001"}, "--max-rows-per-write 10001: give a number from 1 to 10000"},
		{[]string{"--max-value-bytes", "0"}, "--max-value-bytes 0: give a number from 1 to 262144"},
		{[]string{"--max-value-bytes", "262145"}, "--max-value-bytes 262145: give a number from 1 to 262144"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			if stderr := serveRefused(t, tt.args...); !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

// TestServeLimitFlagsTakeEffect lowers every per-request limit and checks
// that a request at a limit passes and one over it is refused with
// InvalidArgument and a message naming the limit.
func TestServeLimitFlagsTakeEffect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, _ := startServer(t, dir, "--max-entities-per-read", "3", "--max-rows-per-write", "2", "--max-value-bytes", "8", "--rate-limit", "0")
	fs, admin := crashClients(t, srv.dir, srv.url)
	ctx := t.Context()
	if _, err := admin.ApplyEntity(ctx, connect.NewRequest(&fvv1.ApplyEntityRequest{Entity: &fvv1.Entity{Name: "customer", JoinKey: "customer_id"}})); err != nil {
		t.Fatal(err)
	}
	view := &fvv1.FeatureView{Name: "profile", Entity: "customer", Fields: []*fvv1.Field{{Name: "name", Type: fvv1.FieldType_FIELD_TYPE_STRING}}}
	if _, err := admin.ApplyFeatureView(ctx, connect.NewRequest(&fvv1.ApplyFeatureViewRequest{View: view})); err != nil {
		t.Fatal(err)
	}
	write := func(names ...string) error {
		rows := make([]*fvv1.Row, len(names))
		for i, n := range names {
			rows[i] = &fvv1.Row{EntityKey: fmt.Sprintf("c%d", i), EventTime: timestamppb.New(time.Unix(1_700_000_000, 0)),
				Values: map[string]*fvv1.Value{"name": {Kind: &fvv1.Value_StringValue{StringValue: n}}}}
		}
		_, err := fs.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: rows}))
		return err
	}
	read := func(n int) error {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("c%d", i)
		}
		_, err := fs.GetOnlineFeatures(ctx, connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: keys}))
		return err
	}
	tests := []struct {
		name string
		call func() error
		want string // "" for success
	}{
		{"2 rows, values of 8 bytes", func() error { return write("12345678", "abc") }, ""},
		{"3 rows", func() error { return write("a", "b", "c") }, "limit of 2 per request (--max-rows-per-write)"},
		{"a value of 9 bytes", func() error { return write("123456789") }, "limit of 8 bytes per value"},
		{"read of 3 entities", func() error { return read(3) }, ""},
		{"read of 4 entities", func() error { return read(4) }, "limit of 3 per request (--max-entities-per-read)"},
	}
	for _, tt := range tests {
		err := tt.call()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", tt.name, err)
		case tt.want != "" && (connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v (code %v), want InvalidArgument naming %q", tt.name, err, connect.CodeOf(err), tt.want)
		}
	}
}
