package telemetry_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/telemetry"
)

// TestCountersAddExactlyWhatTheyAreGiven moves the decision, budget and
// erasure counters and checks each series, including that an action the
// policy does not know and values that are not positive are left out.
func TestCountersAddExactlyWhatTheyAreGiven(t *testing.T) {
	t.Parallel()
	tel := newT(t)
	tel.Decided(policy.ActionRead, 5, 2)
	tel.Decided(policy.ActionRead, 1, 0)
	tel.Decided(policy.ActionAggregate, 0, 1)
	tel.Decision(policy.ActionAdmin, true)
	tel.Decision(policy.ActionAdmin, false)
	tel.Decision(policy.ActionBackup, false)
	tel.Decided(policy.Action("c-42"), 7, 7) // not an action: never a label
	tel.SpentEpsilon(0.5)
	tel.SpentEpsilon(0.25)
	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		tel.SpentEpsilon(bad)
	}
	tel.Erased(3)
	tel.Erased(-2)

	got := series(t, tel.Registry())
	for name, want := range map[string]float64{
		"featurevault_policy_decisions_total{action=read,effect=allowed}":      6,
		"featurevault_policy_decisions_total{action=read,effect=denied}":       2,
		"featurevault_policy_decisions_total{action=aggregate,effect=allowed}": 0,
		"featurevault_policy_decisions_total{action=aggregate,effect=denied}":  1,
		"featurevault_policy_decisions_total{action=write,effect=allowed}":     0,
		"featurevault_policy_decisions_total{action=admin,effect=allowed}":     1,
		"featurevault_policy_decisions_total{action=admin,effect=denied}":      1,
		"featurevault_policy_decisions_total{action=backup,effect=denied}":     1,
		"featurevault_privacy_budget_spent_epsilon_total":                      0.75,
		"featurevault_erasures_total":                                          3,
	} {
		if g, ok := got[name]; !ok || g != want {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, want)
		}
	}
	var decisionSeries int
	for name := range got {
		if strings.HasPrefix(name, "featurevault_policy_decisions_total{") {
			decisionSeries++
		}
	}
	if decisionSeries != 10 {
		t.Errorf("%d decision series, want 10 (5 actions × 2 effects, nothing else)", decisionSeries)
	}
}

// fakeKeys and fakeAudit stand in for the keyring and the audit log: the
// sources are read through these two methods only.
type fakeKeys struct{ st keys.Stats }

func (f fakeKeys) Stats() keys.Stats { return f.st }

type fakeAudit struct {
	seq uint64
	err error
}

func (f fakeAudit) Head(context.Context) (audit.Checkpoint, error) {
	return audit.Checkpoint{Seq: f.seq}, f.err
}

// TestSourcesAreReadAtScrape checks that the key-cache, KMS and audit
// series report the watched sources' own counters, as they are at each
// scrape, and are left out when there is nothing to read.
func TestSourcesAreReadAtScrape(t *testing.T) {
	t.Parallel()
	tel := newT(t)
	if g, ok := series(t, tel.Registry())["featurevault_key_cache_hits_total"]; ok {
		t.Errorf("before Watch: featurevault_key_cache_hits_total = %v, want it left out", g)
	}

	st := keys.Stats{CacheHits: 40, CacheMisses: 2, CacheEvictions: 1, CacheSize: 9, KMSGetAEAD: 1, KMSWraps: 3, KMSUnwraps: 4, KMSCalls: 8}
	tel.Watch(telemetry.Sources{Keys: fakeKeys{st}, Audit: fakeAudit{seq: 17}})
	want := map[string]float64{
		"featurevault_key_cache_hits_total":         40,
		"featurevault_key_cache_misses_total":       2,
		"featurevault_key_cache_evictions_total":    1,
		"featurevault_key_cache_entries":            9,
		"featurevault_kms_calls_total{op=get_aead}": 1,
		"featurevault_kms_calls_total{op=wrap}":     3,
		"featurevault_kms_calls_total{op=unwrap}":   4,
		"featurevault_audit_records_total":          17,
	}
	got := series(t, tel.Registry())
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, w)
		}
	}

	tel.Watch(telemetry.Sources{Keys: fakeKeys{keys.Stats{CacheHits: 41}}, Audit: fakeAudit{err: errors.New("closed")}})
	got = series(t, tel.Registry())
	if g := got["featurevault_key_cache_hits_total"]; g != 41 {
		t.Errorf("after the sources moved: featurevault_key_cache_hits_total = %v, want 41", g)
	}
	if g, ok := got["featurevault_audit_records_total"]; ok {
		t.Errorf("audit head unreadable: featurevault_audit_records_total = %v, want the series left out", g)
	}
}
