package store_test

import (
	"testing"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

func TestPlanMemoryStaysWithinTheBudget(t *testing.T) {
	t.Parallel()
	for _, budget := range []int64{store.MinMemoryBudget, store.DefaultMemoryBudget, 1 << 30, 16 << 30} {
		p, err := store.PlanMemory(budget)
		if err != nil {
			t.Fatalf("PlanMemory(%d): %v", budget, err)
		}
		if got := p.Total(); got > budget*3/5 {
			t.Errorf("PlanMemory(%d).Total() = %d; want at most 3/5 of the budget, the rest the collector's room", budget, got)
		}
		for name, m := range map[string]kv.Memory{"data": p.Data, "keystore": p.Keystore, "audit": p.Audit} {
			if m.Compactors != 2 {
				t.Errorf("PlanMemory(%d): %s database with %d compactors; want 2", budget, name, m.Compactors)
			}
		}
		if p.SubjectKeys <= 0 || p.Data.MemTableBytes <= 0 || p.Keystore.MemTableBytes <= 0 || p.Audit.MemTableBytes <= 0 {
			t.Errorf("PlanMemory(%d) = %+v; want every share positive", budget, p)
		}
		if !p.Data.Uncompressed {
			t.Errorf("PlanMemory(%d): data tables compressed; want uncompressed (ciphertext)", budget)
		}
		if !p.Audit.Uncompressed {
			t.Errorf("PlanMemory(%d): audit tables compressed; want uncompressed (Snappy's builder buffers doubled the collector's work)", budget)
		}
	}
}

func TestPlanMemoryAtTheDefaultBudget(t *testing.T) {
	t.Parallel()
	p, err := store.PlanMemory(store.DefaultMemoryBudget)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Data.MemTableBytes, int64(32<<20); got != want {
		t.Errorf("data memtable = %d, want %d (a 4.8 MB atomic write)", got, want)
	}
	if got, want := p.SubjectKeys, 131072; got != want {
		t.Errorf("subject keys cached = %d, want %d", got, want)
	}
	if got := store.DefaultOptions(t.TempDir()).MemoryPlan(); got != p {
		t.Errorf("DefaultOptions().MemoryPlan() = %+v, want the default budget's %+v", got, p)
	}
}

func TestMemoryBudgetBelowTheMinimumIsRefused(t *testing.T) {
	t.Parallel()
	if _, err := store.PlanMemory(store.MinMemoryBudget - 1); err == nil {
		t.Error("PlanMemory below the minimum: got nil error")
	}
	o := store.DefaultOptions(t.TempDir())
	if _, err := o.WithMemoryBudget(1 << 20); err == nil {
		t.Error("WithMemoryBudget(1 MiB): got nil error")
	}
}

func TestStoreOpensWithASmallBudget(t *testing.T) {
	t.Parallel()
	o, err := store.DefaultOptions(t.TempDir()).WithMemoryBudget(store.MinMemoryBudget)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open with a %d-byte budget: %v", store.MinMemoryBudget, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
