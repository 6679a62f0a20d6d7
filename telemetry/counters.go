package telemetry

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/featurevault/featurevault/policy"
)

// decisionActions are the values of the action label, in the order of
// decisionCounters.c.
var decisionActions = [...]policy.Action{policy.ActionRead, policy.ActionAggregate, policy.ActionWrite, policy.ActionAdmin, policy.ActionBackup}

// decisionCounters are featurevault_policy_decisions_total, every series
// resolved up front: [action][0] allowed, [action][1] denied.
type decisionCounters struct {
	vec *prometheus.CounterVec
	c   [len(decisionActions)][2]prometheus.Counter
}

func newDecisionCounters() decisionCounters {
	d := decisionCounters{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "featurevault_policy_decisions_total",
		Help: "Decisions made by the access policy for requests (one per column; one per admin or backup call), by action and effect (allowed, denied).",
	}, []string{"action", "effect"})}
	for i, a := range decisionActions {
		d.c[i][0] = d.vec.WithLabelValues(string(a), "allowed")
		d.c[i][1] = d.vec.WithLabelValues(string(a), "denied")
	}
	return d
}

// Decided counts the column decisions of one request: allowed columns
// allowed, denied columns denied, for action. An action the policy does
// not define is not counted (label values come from a fixed set).
func (t *T) Decided(action policy.Action, allowed, denied int) {
	if t == nil {
		return
	}
	for i, a := range decisionActions {
		if a == action {
			if allowed > 0 {
				t.decisions.c[i][0].Add(float64(allowed))
			}
			if denied > 0 {
				t.decisions.c[i][1].Add(float64(denied))
			}
			return
		}
	}
}

// Decision counts one decision of action, allowed or denied (an admin
// request's check, say).
func (t *T) Decision(action policy.Action, allowed bool) {
	if allowed {
		t.Decided(action, 1, 0)
	} else {
		t.Decided(action, 0, 1)
	}
}

// SpentEpsilon adds the epsilon a released aggregate charged to a budget.
// Call it only once the answer is released: a refunded charge was not spent.
// A value that is not a positive number is ignored.
func (t *T) SpentEpsilon(epsilon float64) {
	if t == nil || !(epsilon > 0) || math.IsInf(epsilon, 0) {
		return
	}
	t.epsilon.Add(epsilon)
}

// Erased counts n data subjects erased.
func (t *T) Erased(n int) {
	if t == nil || n <= 0 {
		return
	}
	t.erasures.Add(float64(n))
}
