package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/internal/loadgen"
)

// TestMixOpsParsesWeightsAndRefusesBadMixes checks the --mix parser the
// run and soak commands share.
func TestMixOpsParsesWeightsAndRefusesBadMixes(t *testing.T) {
	t.Parallel()
	known := func(name string, _ int) (*loadgen.Op, error) {
		switch name {
		case "a", "b":
			return &loadgen.Op{Name: name}, nil
		case "skip":
			return nil, nil
		}
		return nil, errors.New("unknown " + name)
	}
	ops, err := mixOps(" a=3, b=0 ,skip=5,", "a=1", known)
	if err != nil || len(ops) != 1 || ops[0].Name != "a" || ops[0].Weight != 3 {
		t.Fatalf("mixOps = %+v, %v; want only a with weight 3", ops, err)
	}
	for _, c := range []struct{ mix, want string }{
		{"a", `--mix "a": want name=weight pairs such as a=1`},
		{"a=-1", `--mix "a=-1": want name=weight pairs`},
		{"a=x", `--mix "a=x": want name=weight pairs`},
		{"c=1", "unknown c"},
		{"a=0,skip=2", "--mix has no operation with a positive weight"},
		{"", "--mix has no operation with a positive weight"},
	} {
		if _, err := mixOps(c.mix, "a=1", known); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("mixOps(%q) = %v, want an error containing %q", c.mix, err, c.want)
		}
	}
}

func TestMedianFiguresTakesEachFiguresMedian(t *testing.T) {
	t.Parallel()
	rounds := []RoundFigures{
		{P50: 300, P99: 900, Max: 5000, PerSecond: 3000, ServerUsPerOp: 90, Errors: 1},
		{P50: 100, P99: 2000, Max: 1000, PerSecond: 1000, ServerUsPerOp: 70},
		{P50: 200, P99: 1000, Max: 9000, PerSecond: 2000, ServerUsPerOp: 80, Errors: 2},
	}
	got := medianFigures(rounds)
	want := RoundFigures{P50: 200, P99: 1000, Max: 5000, PerSecond: 2000, ServerUsPerOp: 80, Errors: 3}
	if got != want {
		t.Errorf("medianFigures = %+v, want %+v", got, want)
	}
	if got := medianFigures(rounds[:2]); got.P50 != 200 || got.P99 != 1450 {
		t.Errorf("median of two rounds = %+v, want the means of the middle pair (p50 200, p99 1450)", got)
	}
}
