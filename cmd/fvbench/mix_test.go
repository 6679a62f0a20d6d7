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
