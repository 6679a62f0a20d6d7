package pgkv_test

import (
	"errors"
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/pgtest"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/kv/pgkv"
)

// TestUnreachableDatabaseIsUnavailableAndRecovers cuts the connection to
// the database: every operation fails with kv.ErrUnavailable, nothing is
// half written, and the same store works again once the database is back.
func TestUnreachableDatabaseIsUnavailableAndRecovers(t *testing.T) {
	t.Parallel()
	proxy, url := pgtest.NewProxy(t, pgtest.URL(t))
	db, err := pgkv.Open(t.Context(), url, pgkv.DefaultOptions("data").WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Apply([]kv.Op{{Key: []byte("a"), Value: []byte("1")}}); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	ops := []kv.Op{{Key: []byte("a"), Value: []byte("2")}, {Key: []byte("b"), Value: []byte("2")}}
	if err := db.Apply(ops); !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("Apply with the database cut = %v, want kv.ErrUnavailable", err)
	}
	if _, err := db.Get([][]byte{[]byte("a")}); !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("Get with the database cut = %v, want kv.ErrUnavailable", err)
	}
	if err := kv.Update(db, []byte("a"), func(old []byte) ([]byte, error) { return []byte("3"), nil }); !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("Update with the database cut = %v, want kv.ErrUnavailable", err)
	}
	proxy.Restore()
	got, err := db.Get([][]byte{[]byte("a"), []byte("b")})
	if err != nil {
		t.Fatalf("Get after the database came back: %v", err)
	}
	if string(got[0]) != "1" || got[1] != nil {
		t.Errorf("after the failed batch, a=%q b=%q; want 1 and absent (no partial write)", got[0], got[1])
	}
	if err := db.Apply(ops); err != nil {
		t.Errorf("Apply after the database came back: %v", err)
	}
}

func TestOpenUnreachableSaysUnavailable(t *testing.T) {
	t.Parallel()
	proxy, url := pgtest.NewProxy(t, pgtest.URL(t))
	proxy.Cut()
	_, err := pgkv.Open(t.Context(), url, pgkv.DefaultOptions("data"))
	if !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("Open of an unreachable database = %v, want kv.ErrUnavailable", err)
	}
}
