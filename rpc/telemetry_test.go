package rpc_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/telemetry"
)

// TestTelemetryMeasuresEveryCallWithoutValues runs a real server with
// telemetry (metrics, and tracing every call into memory), makes writes,
// allowed and partly denied reads and an unauthenticated call, and checks:
// one server span per call, named by its procedure, with none of the
// values, entity key or tokens in any span; and the request, decision and
// key-cache series moved by exactly what the calls did.
func TestTelemetryMeasuresEveryCallWithoutValues(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp, err := telemetry.NewTracerProvider(exp, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	tel, err := telemetry.New(telemetry.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, t.TempDir(), rpc.WithTelemetry(tel))
	ctx := t.Context()
	var calls []string // procedures called, in order
	called := func(procedure string) { calls = append(calls, procedure) }

	applySpec(t, s) // one ApplyEntity, one ApplyFeatureView
	called(featurevaultv1connect.AdminServiceApplyEntityProcedure)
	called(featurevaultv1connect.AdminServiceApplyFeatureViewProcedure)
	const key = "c-telemetry-7731"
	if _, err := s.feature.WriteFeatures(ctx, connect.NewRequest(&fvv1.WriteFeaturesRequest{View: "profile", Rows: []*fvv1.Row{sampleRow(key)}})); err != nil {
		t.Fatal(err)
	}
	called(featurevaultv1connect.FeatureServiceWriteFeaturesProcedure)
	if _, err := s.admin.GrantPolicy(ctx, connect.NewRequest(&fvv1.GrantPolicyRequest{Rule: rule("ager", read, "profile.age", "", "", false)})); err != nil {
		t.Fatal(err)
	}
	called(featurevaultv1connect.AdminServiceGrantPolicyProcedure)
	created, err := s.admin.CreatePrincipal(ctx, connect.NewRequest(&fvv1.CreatePrincipalRequest{Name: "ager_bot", Roles: []string{"ager"}}))
	if err != nil {
		t.Fatal(err)
	}
	called(featurevaultv1connect.AdminServiceCreatePrincipalProcedure)

	read := &fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{key}}
	for range 2 { // every column, as the admin: 2 × 7 allowed
		if _, err := s.feature.GetOnlineFeatures(ctx, connect.NewRequest(read)); err != nil {
			t.Fatal(err)
		}
		called(featurevaultv1connect.FeatureServiceGetOnlineFeaturesProcedure)
	}
	bot := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, s.as(created.Msg.Token, "analytics"))
	partial := &fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{key}, Features: []string{"age", "email", "income"}}
	if _, err := bot.GetOnlineFeatures(ctx, connect.NewRequest(partial)); err != nil { // 1 allowed, 2 denied
		t.Fatal(err)
	}
	called(featurevaultv1connect.FeatureServiceGetOnlineFeaturesProcedure)
	anonymous := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url)
	if _, err := anonymous.GetOnlineFeatures(ctx, connect.NewRequest(read)); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("read without a token: %v, want unauthenticated", err)
	}
	called(featurevaultv1connect.FeatureServiceGetOnlineFeaturesProcedure)

	// Spans: one per call, named by the procedure, carrying nothing secret.
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	var got []string
	for _, sp := range spans {
		got = append(got, "/"+sp.Name)
	}
	want := slices.Clone(calls)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("spans = %q, want one per call: %q", got, want)
	}
	secrets := []string{key, "a@example.com", "52000.5", s.token, created.Msg.Token}
	for _, sp := range spans {
		text := spanStrings(sp)
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("span %s carries %q:\n%s", sp.Name, secret, text)
			}
		}
	}

	// Metrics: exactly what the calls did.
	m := gather(t, tel.Registry())
	online := featurevaultv1connect.FeatureServiceGetOnlineFeaturesProcedure
	for name, w := range map[string]float64{
		`featurevault_rpc_requests_total{code="ok",procedure="` + online + `"}`:                                                     3,
		`featurevault_rpc_requests_total{code="unauthenticated",procedure="` + online + `"}`:                                        1,
		`featurevault_rpc_requests_total{code="ok",procedure="` + featurevaultv1connect.FeatureServiceWriteFeaturesProcedure + `"}`: 1,
		`featurevault_policy_decisions_total{action="read",effect="allowed"}`:                                                       2*7 + 1,
		`featurevault_policy_decisions_total{action="read",effect="denied"}`:                                                        2,
		`featurevault_policy_decisions_total{action="write",effect="allowed"}`:                                                      7,
		`featurevault_policy_decisions_total{action="admin",effect="allowed"}`:                                                      4,
		`featurevault_key_cache_entries`:                                                                                            1,
	} {
		if g, ok := m[name]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, w)
		}
	}
	if g := m["featurevault_key_cache_hits_total"]; g < 3 {
		t.Errorf("featurevault_key_cache_hits_total = %v, want at least 3 (three reads of a subject whose key was cached by its write)", g)
	}
	if g := m[`featurevault_kms_calls_total{op="unwrap"}`] + m[`featurevault_kms_calls_total{op="wrap"}`]; g < 1 {
		t.Errorf("featurevault_kms_calls_total wrap+unwrap = %v, want at least 1 (the KEK at start)", g)
	}
	if g, authenticated := m["featurevault_audit_records_total"], len(calls)-1; g < float64(authenticated) {
		t.Errorf("featurevault_audit_records_total = %v, want at least %d (one per authenticated call)", g, authenticated)
	}
}

// spanStrings is every string of a span, for a search.
func spanStrings(s tracetest.SpanStub) string {
	var b strings.Builder
	b.WriteString(s.Name + " " + s.Status.Description + "\n")
	for _, a := range s.Attributes {
		b.WriteString(string(a.Key) + "=" + a.Value.String() + "\n")
	}
	for _, e := range s.Events {
		b.WriteString(e.Name + "\n")
	}
	return b.String()
}

// gather reads reg as `name{label="value",...}` -> value (a histogram's
// sample count).
func gather(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				name += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}
