package main

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/store"
)

// serveMemory holds serve's --memory-budget.
type serveMemory struct {
	budget byteSize
}

// addFlags defines m's flag on serve.
func (m *serveMemory) addFlags(cmd *cobra.Command) {
	m.budget = store.DefaultMemoryBudget
	cmd.Flags().Var(&m.budget, "memory-budget", "memory the server sizes its caches and memtables by, e.g. 256MiB or 1GiB (at least 64MiB); "+
		"split between the data, keystore and audit databases and the subject key cache as docs/operations.md#memory describes, and set as the Go runtime's soft memory limit unless GOMEMLIMIT is set")
}

// check refuses a budget too small to open the store with.
func (m *serveMemory) check() error {
	if int64(m.budget) < store.MinMemoryBudget {
		return fmt.Errorf("--memory-budget %s is too small: give at least 64MiB", m.budget.String())
	}
	return nil
}

// apply sizes o by the budget and adds it to the Go runtime's soft memory
// limit (unless the GOMEMLIMIT environment variable set one): the limit of
// a process serving once is the budget; servers started in one process
// (tests) add their budgets up.
func (m *serveMemory) apply(o store.Options, log *slog.Logger) (store.Options, error) {
	o, err := o.WithMemoryBudget(int64(m.budget))
	if err != nil {
		return o, fmt.Errorf("--memory-budget %s: %w", m.budget.String(), err)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		limit := int64(m.budget)
		if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
			limit = min(cur, math.MaxInt64-limit) + limit
		}
		debug.SetMemoryLimit(limit)
	}
	p := o.MemoryPlan()
	log.Info("memory budget", "budget", m.budget.String(), "caches_and_memtables", fmt.Sprintf("%dMiB", p.Total()>>20), "subject_keys_cached", p.SubjectKeys)
	return o, nil
}

// byteSize is a flag of a number of bytes, written plainly (268435456) or
// with a unit: KiB, MiB, GiB (powers of 1024) or KB, MB, GB (of 1000).
type byteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return fmt.Errorf("%q is not a size: write bytes, or a number with KiB, MiB, GiB, KB, MB or GB, e.g. 256MiB", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// String writes b in the largest binary unit that divides it.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (*byteSize) Type() string { return "size" }
