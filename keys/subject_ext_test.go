package keys_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

var ad = []byte("view|field|subject|event-time|schema")

// mustBI derives a blind index or fails the test.
func mustBI(t testing.TB, k *keys.Keyring, entity, key string) keys.BlindIndex {
	t.Helper()
	bi, err := k.BlindIndex(entity, key)
	if err != nil {
		t.Fatalf("BlindIndex: %v", err)
	}
	return bi
}

// sameKey reports whether b decrypts what a encrypts.
func sameKey(t testing.TB, a, b tink.AEAD) bool {
	t.Helper()
	ct, err := a.Encrypt([]byte("v"), ad)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	_, err = b.Decrypt(ct, ad)
	return err == nil
}

func TestSubjectAEADCiphertextOverhead(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	a, _, err := k.SubjectAEAD("customer", mustBI(t, k, "customer", "c-1"), true)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := a.Encrypt(make([]byte, 8), ad)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ct)-8, 28; got != want {
		t.Errorf("ciphertext overhead = %d bytes, want %d (AES256-GCM, no Tink prefix)", got, want)
	}
}

func TestSubjectKeysAreDistinct(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	bi := mustBI(t, k, "customer", "c-1")
	a1, _, _ := k.SubjectAEAD("customer", bi, true)
	a2, _, _ := k.SubjectAEAD("customer", mustBI(t, k, "customer", "c-2"), true)
	a3, _, _ := k.SubjectAEAD("driver", bi, true) // same index bytes, other entity
	if sameKey(t, a1, a2) || sameKey(t, a1, a3) {
		t.Errorf("two subjects share a key")
	}
}

func TestWrappedSubjectKeyIsBoundToItsSubject(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	k, ks := openNew(t, o)
	slot := func(bi keys.BlindIndex) []byte { // the keystore key holding bi's wrapped keyset
		t.Helper()
		var found []byte
		ks.Scan([]byte("s/"), func(e kv.Entry) error {
			if bytes.HasSuffix(e.Key, bi[:]) {
				found = e.Key
			}
			return nil
		})
		if found == nil {
			t.Fatalf("no keystore slot for %s", bi)
		}
		return found
	}
	biA, biB := mustBI(t, k, "customer", "alice"), mustBI(t, k, "customer", "bob")
	for _, bi := range []keys.BlindIndex{biA, biB} {
		if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
			t.Fatal(err)
		}
	}
	v, _ := ks.Get([][]byte{slot(biA)})
	if err := ks.Apply([]kv.Op{{Key: slot(biB), Value: v[0]}}); err != nil {
		t.Fatal(err)
	}

	// A second keyring on the same keystore has nothing cached.
	k2, err := keys.Open(t.Context(), ks, o)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer k2.Close()
	_, _, err = k2.SubjectAEAD("customer", biB, false)
	if !errors.Is(err, keys.ErrSubjectUnwrap) {
		t.Fatalf("SubjectAEAD with A's key in B's slot: err %v, want ErrSubjectUnwrap", err)
	}
	for _, want := range []string{biB.String(), "customer", "moved from another subject"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if _, _, err := k2.SubjectAEAD("customer", biA, false); err != nil {
		t.Errorf("subject A after the copy: %v, want it intact", err)
	}
}

func TestForgetSubject(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	bi := mustBI(t, k, "customer", "c-1")
	old, _, err := k.SubjectAEAD("customer", bi, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.ForgetSubject("customer", bi); err != nil {
		t.Fatalf("ForgetSubject: %v", err)
	}
	if _, _, err := k.SubjectAEAD("customer", bi, false); !errors.Is(err, keys.ErrSubjectNotFound) {
		t.Errorf("SubjectAEAD(create=false) after ForgetSubject: err %v, want ErrSubjectNotFound", err)
	}
	as, _, err := k.SubjectAEADs("customer", []keys.BlindIndex{bi}, false)
	if err != nil || as[0] != nil {
		t.Errorf("SubjectAEADs(create=false) after ForgetSubject = %v, %v; want [nil], nil", as, err)
	}
	if err := k.ForgetSubject("customer", bi); err != nil {
		t.Errorf("second ForgetSubject: %v, want nil (idempotent)", err)
	}
	fresh, created, err := k.SubjectAEAD("customer", bi, true)
	if err != nil || !created {
		t.Fatalf("SubjectAEAD(create) after ForgetSubject: created %v, err %v; want a new key", created, err)
	}
	if sameKey(t, old, fresh) {
		t.Errorf("the key created after ForgetSubject decrypts the forgotten key's ciphertext")
	}
}

func TestSubjectAEADsBatch(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	have, missing := mustBI(t, k, "customer", "have"), mustBI(t, k, "customer", "missing")
	want, _, err := k.SubjectAEAD("customer", have, true)
	if err != nil {
		t.Fatal(err)
	}

	as, created, err := k.SubjectAEADs("customer", []keys.BlindIndex{missing, have}, false)
	if err != nil {
		t.Fatalf("SubjectAEADs(create=false): %v", err)
	}
	if as[0] != nil || as[1] == nil || created[0] || created[1] {
		t.Fatalf("SubjectAEADs(create=false) = nil? %v/%v, created %v; want [nil, AEAD], [false false]", as[0] == nil, as[1] == nil, created)
	}
	if !sameKey(t, want, as[1]) {
		t.Errorf("batched AEAD of an existing subject is not its key")
	}

	// A subject listed twice gets one key, created once.
	as, created, err = k.SubjectAEADs("customer", []keys.BlindIndex{missing, have, missing}, true)
	if err != nil {
		t.Fatalf("SubjectAEADs(create=true): %v", err)
	}
	if got, want := fmt.Sprint(created), "[true false false]"; got != want {
		t.Errorf("created = %s, want %s", got, want)
	}
	if !sameKey(t, as[0], as[2]) {
		t.Errorf("a subject listed twice got two keys")
	}
	one, _, err := k.SubjectAEAD("customer", missing, false)
	if err != nil || !sameKey(t, as[0], one) {
		t.Errorf("SubjectAEAD after batched create: err %v; want the batch's key", err)
	}
	if got := k.Stats().SubjectsCreated; got != 2 {
		t.Errorf("Stats().SubjectsCreated = %d, want 2", got)
	}
}

func TestConcurrentCreateYieldsOneKey(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	const subjects, callers = 20, 8
	for s := range subjects {
		bi := mustBI(t, k, "customer", fmt.Sprint("race-", s))
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			aeads   [callers]tink.AEAD
			created [callers]bool
			errs    [callers]error
		)
		for c := range callers {
			wg.Go(func() {
				<-start
				if c%2 == 0 {
					aeads[c], created[c], errs[c] = k.SubjectAEAD("customer", bi, true)
					return
				}
				as, cs, err := k.SubjectAEADs("customer", []keys.BlindIndex{bi}, true)
				if err == nil {
					aeads[c], created[c] = as[0], cs[0]
				}
				errs[c] = err
			})
		}
		close(start)
		wg.Wait()
		n := 0
		for c := range callers {
			if errs[c] != nil {
				t.Fatalf("subject %d caller %d: %v", s, c, errs[c])
			}
			if created[c] {
				n++
			}
			if !sameKey(t, aeads[0], aeads[c]) {
				t.Errorf("subject %d: caller %d got a different key than caller 0", s, c)
			}
		}
		if n != 1 {
			t.Errorf("subject %d: %d callers report created, want exactly 1", s, n)
		}
	}
	if got := k.Stats().SubjectsCreated; got != subjects {
		t.Errorf("Stats().SubjectsCreated = %d, want %d", got, subjects)
	}
}

// TestForgetWinsOverConcurrentLoads checks that a key being loaded while it
// is forgotten never re-enters the cache.
func TestForgetWinsOverConcurrentLoads(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	for i := range 50 {
		bi := mustBI(t, k, "customer", fmt.Sprint("forget-", i))
		if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { k.SubjectAEAD("customer", bi, false) })
		}
		if err := k.ForgetSubject("customer", bi); err != nil {
			t.Fatal(err)
		}
		if _, _, err := k.SubjectAEAD("customer", bi, false); !errors.Is(err, keys.ErrSubjectNotFound) {
			t.Fatalf("round %d: SubjectAEAD after ForgetSubject: err %v, want ErrSubjectNotFound", i, err)
		}
		wg.Wait()
		if _, _, err := k.SubjectAEAD("customer", bi, false); !errors.Is(err, keys.ErrSubjectNotFound) {
			t.Fatalf("round %d: SubjectAEAD after concurrent loads finished: err %v, want ErrSubjectNotFound", i, err)
		}
	}
}

func TestCacheBoundedBySize(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t).WithCacheSize(2))
	var bis []keys.BlindIndex
	for i := range 3 {
		bi := mustBI(t, k, "customer", fmt.Sprint("c-", i))
		bis = append(bis, bi)
		if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
			t.Fatal(err)
		}
	}
	st := k.Stats()
	if st.CacheSize != 2 || st.CacheEvictions != 1 {
		t.Errorf("after 3 subjects in a cache of 2: size %d, evictions %d; want 2, 1", st.CacheSize, st.CacheEvictions)
	}
	// The least recently used (the first) was evicted: reading it unwraps again.
	if _, _, err := k.SubjectAEAD("customer", bis[0], false); err != nil {
		t.Fatal(err)
	}
	if got := k.Stats().SubjectsUnwrapped; got != st.SubjectsUnwrapped+1 {
		t.Errorf("SubjectsUnwrapped = %d, want %d (evicted key reloaded)", got, st.SubjectsUnwrapped+1)
	}
	if _, _, err := k.SubjectAEAD("customer", bis[0], false); err != nil {
		t.Fatal(err)
	}
	if got := k.Stats().SubjectsUnwrapped; got != st.SubjectsUnwrapped+1 {
		t.Errorf("SubjectsUnwrapped = %d, want %d (second read is a cache hit)", got, st.SubjectsUnwrapped+1)
	}
}

func TestEmptyEntityIsRejected(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	var bi keys.BlindIndex
	if _, err := k.BlindIndex("", "c-1"); !errors.Is(err, keys.ErrInvalidArgument) {
		t.Errorf("BlindIndex(\"\"): err %v, want ErrInvalidArgument", err)
	}
	if _, _, err := k.SubjectAEAD("", bi, true); !errors.Is(err, keys.ErrInvalidArgument) {
		t.Errorf("SubjectAEAD(\"\"): err %v, want ErrInvalidArgument", err)
	}
}

// pausingStore is a kv.Store whose next subject-key Get, once armed, reads the
// store, then signals loaded and waits for release before returning.
type pausingStore struct {
	kv.Store
	armed           atomic.Bool
	loaded, release chan struct{}
}

func (s *pausingStore) Get(keys [][]byte) ([][]byte, error) {
	v, err := s.Store.Get(keys)
	if len(keys) > 0 && bytes.HasPrefix(keys[0], []byte("s/")) && s.armed.CompareAndSwap(true, false) {
		close(s.loaded)
		<-s.release
	}
	return v, err
}

// TestForgetDuringLoadKeepsKeyOutOfCache pins the interleaving: a load reads
// the wrapped key, the subject is forgotten, then the load finishes. The
// loaded key must not be cached.
func TestForgetDuringLoadKeepsKeyOutOfCache(t *testing.T) {
	t.Parallel()
	ps := &pausingStore{Store: memKeystore(t), loaded: make(chan struct{}), release: make(chan struct{})}
	k, err := keys.Open(t.Context(), ps, testOptions(t).WithCreate(true).WithCacheSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	bi, other := mustBI(t, k, "customer", "c-1"), mustBI(t, k, "customer", "c-2")
	for _, b := range []keys.BlindIndex{bi, other} { // other evicts bi from the cache of 1
		if _, _, err := k.SubjectAEAD("customer", b, true); err != nil {
			t.Fatal(err)
		}
	}

	ps.armed.Store(true)
	done := make(chan error)
	go func() {
		_, _, err := k.SubjectAEAD("customer", bi, false)
		done <- err
	}()
	<-ps.loaded
	if err := k.ForgetSubject("customer", bi); err != nil {
		t.Fatal(err)
	}
	close(ps.release)
	if err := <-done; err != nil {
		t.Fatalf("the load that began before ForgetSubject: %v, want its key", err)
	}
	if _, _, err := k.SubjectAEAD("customer", bi, false); !errors.Is(err, keys.ErrSubjectNotFound) {
		t.Errorf("SubjectAEAD after ForgetSubject: err %v, want ErrSubjectNotFound (a forgotten key re-entered the cache)", err)
	}
}

func TestCacheExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t).WithCacheTTL(time.Millisecond))
	bi := mustBI(t, k, "customer", "c-1")
	if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if _, _, err := k.SubjectAEAD("customer", bi, false); err != nil {
		t.Fatal(err)
	}
	if got := k.Stats().SubjectsUnwrapped; got != 1 {
		t.Errorf("SubjectsUnwrapped after the TTL passed = %d, want 1 (expired key reloaded)", got)
	}
}
