package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/featurevault/featurevault/cluster"
	"github.com/featurevault/featurevault/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func pool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

var quiet = slog.New(slog.DiscardHandler)

type member struct {
	m       *cluster.Member
	reloads atomic.Int32
}

func join(t *testing.T, url, id string, lease time.Duration) *member {
	t.Helper()
	mm := &member{}
	o := cluster.DefaultOptions(id).WithLogger(quiet).WithLease(lease).WithPoll(lease / 4).
		WithReload(func(context.Context) error { mm.reloads.Add(1); return nil })
	m, err := cluster.Join(t.Context(), pool(t, url), o)
	if err != nil {
		t.Fatal(err)
	}
	mm.m = m
	return mm
}

// TestInvalidateWaitsForEveryLiveMember checks that Invalidate returns only
// after every other member reloaded, and that a member that left does not
// hold it up.
func TestInvalidateWaitsForEveryLiveMember(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := join(t, url, "a", 2*time.Second)
	b := join(t, url, "b", 2*time.Second)
	c := join(t, url, "c", 2*time.Second)
	defer a.m.Close()
	defer b.m.Close()
	for i := 1; i <= 3; i++ {
		if err := a.m.Invalidate(t.Context()); err != nil {
			t.Fatal(err)
		}
		for name, mm := range map[string]*member{"a": a, "b": b, "c": c} {
			if got := mm.reloads.Load(); got < int32(i) {
				t.Errorf("after Invalidate #%d, member %s reloaded %d times; want at least %d", i, name, got, i)
			}
		}
	}
	if err := c.m.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.m.Invalidate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Invalidate took %s with a member that left; it must not wait for it", d)
	}
	if n, err := a.m.Live(t.Context()); err != nil || n != 2 {
		t.Errorf("Live = %d, %v; want 2", n, err)
	}
}

// TestMemberCutOffStopsServingAndAnotherMovesOn cuts one member off the
// database: it stops serving within its lease, the others' Invalidate
// completes without it, and once the database is back it reloads and
// serves again without a restart.
func TestMemberCutOffStopsServingAndAnotherMovesOn(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	lease := time.Second
	a := join(t, url, "a", lease)
	defer a.m.Close()
	proxy, viaProxy := pgtest.NewProxy(t, url)
	b := join(t, viaProxy, "b", lease)
	defer b.m.Close()
	if err := b.m.Check(); err != nil {
		t.Fatalf("b.Check right after Join = %v", err)
	}
	proxy.Cut()
	before := b.reloads.Load()
	if err := a.m.Invalidate(t.Context()); err != nil {
		t.Fatalf("Invalidate with a member cut off: %v; want it to go on once its lease lapsed", err)
	}
	if err := b.m.Check(); !errors.Is(err, cluster.ErrNotServing) {
		t.Errorf("b.Check after a change it could not see = %v, want ErrNotServing", err)
	}
	proxy.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for b.m.Check() != nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.m.Check(); err != nil {
		t.Fatalf("b still not serving 10s after the database came back: %v", err)
	}
	if b.reloads.Load() == before {
		t.Error("b serves again without having reloaded the change it missed")
	}
}

// TestLockExcludesAndIsReleasedWhenItsHolderDies takes a lock on one pool,
// sees another refused, closes the first pool (as a killed server's
// connections close) and takes it on the second.
func TestLockExcludesAndIsReleasedWhenItsHolderDies(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pa, err := pgxpool.New(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cluster.Join(t.Context(), pa, cluster.DefaultOptions("a").WithLogger(quiet).WithReload(func(context.Context) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	b := join(t, url, "b", 5*time.Second)
	defer b.m.Close()
	if _, err := a.Lock(t.Context(), "keys"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.m.Lock(t.Context(), "keys"); !errors.Is(err, cluster.ErrBusy) {
		t.Fatalf("second Lock = %v, want ErrBusy", err)
	}
	release, err := b.m.Lock(t.Context(), "other")
	if err != nil {
		t.Fatalf("a lock of another name: %v", err)
	}
	release()
	// The holder's connection dies, as when its process is killed.
	if _, err := pool(t, url).Exec(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		release, err := b.m.Lock(t.Context(), "keys")
		if err == nil {
			release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Lock after the holder's connections closed = %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
