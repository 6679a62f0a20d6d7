package online_test

import (
	"testing"
	"time"

	"github.com/featurevault/featurevault/internal/redistest"
	"github.com/featurevault/featurevault/online"
)

func TestMaterializeRebuildsWhatRedisLost(t *testing.T) {
	t.Parallel()
	c := redistest.Shared(t)
	st, tier := openTier(t, t.TempDir(), c)
	ks := keysN("mat", 30)
	write(t, st, "old", time.Now().Add(-2*time.Hour), ks[:10]...)
	write(t, st, "new", time.Now(), ks...)
	v, bis, err := st.SubjectIndexes("profile", ks)
	if err != nil {
		t.Fatal(err)
	}
	// Redis loses every row of the view.
	rc := online.NewClusterClient(c.Seeds())
	defer rc.Close()
	for _, bi := range bis {
		if err := rc.Del(t.Context(), online.RedisKey(v.ID, bi)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var reports []int
	n, err := tier.Materialize(t.Context(), "profile", time.Time{}, func(done int) { reports = append(reports, done) })
	if err != nil || n != len(ks) {
		t.Fatalf("materialize: got %d, %v; want %d subjects", n, err, len(ks))
	}
	if len(reports) == 0 || reports[len(reports)-1] != n {
		t.Errorf("progress reports %v, want the last to be %d", reports, n)
	}
	hits, rerrs, got, err := online.ReadFromRedis(t.Context(), tier, ks)
	if err != nil || hits != len(ks) || rerrs != 0 {
		t.Fatalf("read after materialize: %d hits, %d Redis errors, %v; want %d hits", hits, rerrs, err, len(ks))
	}
	for i, e := range got {
		if e != "new-"+ks[i] {
			t.Errorf("key %d: got %v, want the latest row", i, e)
		}
	}
	// With since after every row, nothing is copied.
	if n, err := tier.Materialize(t.Context(), "profile", time.Now().Add(time.Minute), nil); err != nil || n != 0 {
		t.Errorf("materialize --since the future: got %d, %v; want 0", n, err)
	}
}
