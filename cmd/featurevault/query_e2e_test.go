package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestQueryAggregateSpendsTheBudget runs the DP commands end to end: an
// analyst with aggregate (and no read) on income gets noisy means until its
// budget is spent, and budget show says what is left.
func TestQueryAggregateSpendsTheBudget(t *testing.T) {
	t.Parallel()
	srv := quickstartServer(t)
	token := createPrincipal(t, srv, "stats_bot", "--role", "statistician", "--attr", "purpose=analytics")
	cli(t, srv, nil, "policy", "grant", "statistician", "--action", "aggregate", "--on", "customer_profile.income", "--purpose", "analytics")
	if _, err := cliErr(t, srv, nil, "--token", token, "--purpose", "analytics", "query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "mean", "--epsilon", "0.5"); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("aggregate without a budget: %v, want an error about the budget", err)
	}
	if out := cli(t, srv, nil, "budget", "set", "stats_bot", "--epsilon", "1"); !strings.Contains(out, "epsilon 0 of 1 spent, 1 remaining") {
		t.Errorf("budget set printed %q", out)
	}
	args := []string{"--token", token, "--purpose", "analytics", "query", "aggregate", "--view", "customer_profile", "--field", "income", "--fn", "mean", "--epsilon", "0.5", "-o", "json"}
	var res struct {
		Value            float64 `json:"value"`
		EpsilonSpent     float64 `json:"epsilon_spent"`
		EpsilonRemaining float64 `json:"epsilon_remaining"`
		Mechanism        string  `json:"mechanism"`
	}
	if err := json.Unmarshal([]byte(cli(t, srv, nil, args...)), &res); err != nil {
		t.Fatal(err)
	}
	if res.EpsilonSpent != 0.5 || res.EpsilonRemaining != 0.5 || res.Mechanism != "discrete_laplace" {
		t.Errorf("answer %+v: want epsilon 0.5 spent, 0.5 remaining, discrete_laplace", res)
	}
	if res.Value < 0 || res.Value > 1000000 {
		t.Errorf("mean %g outside the declared bounds [0, 1000000]", res.Value)
	}
	cli(t, srv, nil, args...)
	if _, err := cliErr(t, srv, nil, args...); err == nil || !strings.Contains(err.Error(), "resource_exhausted") {
		t.Errorf("third query: %v, want resource_exhausted", err)
	}
	if out := cli(t, srv, nil, "budget", "show", "stats_bot"); !strings.Contains(out, "epsilon 1 of 1 spent, 0 remaining") {
		t.Errorf("budget show printed %q", out)
	}
	// Aggregate without read: get never shows the value.
	out := cli(t, srv, nil, "--token", token, "--purpose", "analytics", "get", "--view", "customer_profile", "--entity", "c-42", "--features", "income", "-o", "json")
	if !strings.Contains(out, "DENIED") || strings.Contains(out, "52000") {
		t.Errorf("get of income by an aggregate-only principal printed %q", out)
	}
	if out := cli(t, srv, nil, "budget", "reset", "stats_bot"); !strings.Contains(out, "epsilon 0 of 1 spent") {
		t.Errorf("budget reset printed %q", out)
	}
}
