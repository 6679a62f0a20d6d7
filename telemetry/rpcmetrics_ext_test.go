package telemetry_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/telemetry"
)

// TestInterceptorCountsCallsByProcedureAndCode makes unary and streaming
// calls that succeed and fail, and checks that each moved exactly its own
// featurevault_rpc_requests_total{procedure,code} series, and the
// procedure's duration histogram, by one.
func TestInterceptorCountsCallsByProcedureAndCode(t *testing.T) {
	t.Parallel()
	tel := newT(t)
	c := serveTest(t, tel)
	ctx := t.Context()

	calls := []struct {
		name     string
		run      func() error
		wantCode connect.Code // 0: ok
	}{
		{"unary ok", func() error { return c.call(ctx, "hello") }, 0},
		{"unary ok again", func() error { return c.call(ctx, "hello") }, 0},
		{"unary denied", func() error { return c.call(ctx, "denied") }, connect.CodePermissionDenied},
		{"unary internal", func() error { return c.call(ctx, "internal") }, connect.CodeInternal},
		{"stream ok", func() error { _, err := c.streamCall(ctx, "hello"); return err }, 0},
		{"stream not found", func() error { _, err := c.streamCall(ctx, "missing"); return err }, connect.CodeNotFound},
	}
	for _, call := range calls {
		err := call.run()
		var code connect.Code // 0 for success
		if err != nil {
			code = connect.CodeOf(err)
		}
		if code != call.wantCode {
			t.Fatalf("%s: error %v, want code %v (0: success)", call.name, err, call.wantCode)
		}
	}

	got := series(t, tel.Registry())
	want := map[string]float64{
		"featurevault_rpc_requests_total{code=ok,procedure=" + unaryProcedure + "}":                1 + 1,
		"featurevault_rpc_requests_total{code=permission_denied,procedure=" + unaryProcedure + "}": 1,
		"featurevault_rpc_requests_total{code=internal,procedure=" + unaryProcedure + "}":          1,
		"featurevault_rpc_requests_total{code=ok,procedure=" + streamProcedure + "}":               1,
		"featurevault_rpc_requests_total{code=not_found,procedure=" + streamProcedure + "}":        1,
		"featurevault_rpc_duration_seconds{procedure=" + unaryProcedure + "}":                      4,
		"featurevault_rpc_duration_seconds{procedure=" + streamProcedure + "}":                     2,
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, w)
		}
	}
	for name := range got {
		if strings.HasPrefix(name, "featurevault_rpc_") {
			if _, ok := want[name]; !ok {
				t.Errorf("unexpected series %s = %v: only the outcomes that happened should have a series", name, got[name])
			}
		}
	}
}

// TestNilTelemetryIsANoOp checks that a server without telemetry (a nil
// *T) can call every method: no interceptors, nothing counted, no panic.
func TestNilTelemetryIsANoOp(t *testing.T) {
	t.Parallel()
	var tel *telemetry.T
	if got := tel.Interceptors(); len(got) != 0 {
		t.Errorf("nil T: Interceptors() = %d interceptors, want none", len(got))
	}
	tel.Decided("read", 3, 1)
	tel.Decision("admin", true)
	tel.SpentEpsilon(0.5)
	tel.Erased(2)
}
