package keys_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// subjectsIn creates n subject keys of entity "customer" in a new keystore
// and returns the keystore, the options it opens with, and the subjects.
func subjectsIn(t *testing.T, n int) (kv.Store, keys.Options, []keys.BlindIndex) {
	t.Helper()
	o := testOptions(t)
	k, ks := openNew(t, o)
	bis := make([]keys.BlindIndex, n)
	for i := range bis {
		bi, err := k.BlindIndex("customer", fmt.Sprint("c-", i))
		if err != nil {
			t.Fatal(err)
		}
		bis[i] = bi
	}
	if _, _, err := k.SubjectAEADs("customer", bis, true); err != nil {
		t.Fatal(err)
	}
	return ks, o, bis
}

func TestWarmCachesEverySubjectKeyAReadWouldLoad(t *testing.T) {
	t.Parallel()
	ks, o, bis := subjectsIn(t, 50)
	k := reopen(t, ks, o)
	n, err := k.Warm(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != len(bis) || k.Stats().CacheSize != len(bis) {
		t.Fatalf("Warm cached %d keys, cache holds %d; want %d", n, k.Stats().CacheSize, len(bis))
	}
	before := k.Stats()
	as, _, err := k.SubjectAEADs("customer", bis, false)
	if err != nil {
		t.Fatal(err)
	}
	after := k.Stats()
	if after.SubjectsUnwrapped != before.SubjectsUnwrapped || after.CacheHits-before.CacheHits != uint64(len(bis)) {
		t.Errorf("a read after Warm unwrapped %d keys and hit the cache %d times; want 0 and %d",
			after.SubjectsUnwrapped-before.SubjectsUnwrapped, after.CacheHits-before.CacheHits, len(bis))
	}
	// The warmed keys are the subjects' keys: they decrypt what the
	// keyring that made them encrypted.
	first, _ := keys.Open(context.Background(), ks, o)
	defer first.Close()
	orig, _, err := first.SubjectAEADs("customer", bis, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range bis {
		ct, err := orig[i].Encrypt([]byte("v"), []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := as[i].Decrypt(ct, []byte("ad")); err != nil {
			t.Fatalf("subject %d: the warmed key does not decrypt: %v", i, err)
		}
	}
}

func TestWarmStopsWhenTheCacheIsFullAndEvictsNothing(t *testing.T) {
	t.Parallel()
	ks, o, bis := subjectsIn(t, 40)
	k := reopen(t, ks, o.WithCacheSize(10))
	// Three keys a read loaded first: Warm must keep them.
	if _, _, err := k.SubjectAEADs("customer", bis[:3], false); err != nil {
		t.Fatal(err)
	}
	n, err := k.Warm(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := k.Stats()
	if n != 7 || st.CacheSize != 10 || st.CacheEvictions != 0 {
		t.Fatalf("Warm of a 10-key cache holding 3: cached %d, cache holds %d, %d evictions; want 7, 10, 0", n, st.CacheSize, st.CacheEvictions)
	}
	if _, _, err := k.SubjectAEADs("customer", bis[:3], false); err != nil {
		t.Fatal(err)
	}
	if got := k.Stats().SubjectsUnwrapped; got != st.SubjectsUnwrapped {
		t.Errorf("the keys read before Warm were loaded again (%d unwraps): Warm evicted them", got-st.SubjectsUnwrapped)
	}
	if n, err := k.Warm(t.Context()); n != 0 || err != nil {
		t.Errorf("Warm of a full cache = %d, %v; want 0, nil", n, err)
	}
}

// scanHook runs hook once, as the first entry of a Scan arrives: after the
// walk's snapshot was taken, before Warm caches anything.
type scanHook struct {
	kv.Store
	once sync.Once
	hook func()
}

func (s *scanHook) Scan(prefix []byte, fn func(kv.Entry) error) error {
	return s.Store.Scan(prefix, func(e kv.Entry) error {
		s.once.Do(s.hook)
		return fn(e)
	})
}

func TestWarmDoesNotCacheAKeyErasedWhileItRuns(t *testing.T) {
	t.Parallel()
	ks, o, bis := subjectsIn(t, 20)
	hooked := &scanHook{Store: ks}
	k := reopen(t, hooked, o)
	var forgetErr error
	hooked.hook = func() {
		// The erasure lands after Warm's walk began: the walk still sees
		// the keys, so only the stripe generations keep them out.
		_, forgetErr = k.ForgetSubjects("customer", bis[:5])
	}
	n, err := k.Warm(t.Context())
	if err != nil || forgetErr != nil {
		t.Fatal(err, forgetErr)
	}
	if n > len(bis)-5 {
		t.Errorf("Warm cached %d keys of %d subjects, 5 of them erased", n, len(bis))
	}
	as, _, err := k.SubjectAEADs("customer", bis[:5], false)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range as {
		if a != nil {
			t.Errorf("erased subject %d still has a key after Warm: the warm-up cached a destroyed key", i)
		}
	}
}

func TestWarmStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ks, o, _ := subjectsIn(t, 5)
	k := reopen(t, ks, o)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if n, err := k.Warm(ctx); n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("Warm with a cancelled context = %d, %v; want 0, context.Canceled", n, err)
	}
	k.Close()
	if _, err := k.Warm(t.Context()); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("Warm after Close = %v, want ErrClosed", err)
	}
}
