package keys_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// holdStore is a real keystore that, once armed, holds back the first write
// of subject keys alone (a creation or a subject rotation: a rewrap's
// writes also carry its cursor) until released, like a slow disk. While
// one is held, a subject walk (Seek over "s/") first runs, then releases
// the write and returns only once it has landed: the write lands just
// behind the walk, the worst case for a rewrap without a barrier.
type holdStore struct {
	kv.Store
	mu      sync.Mutex
	armed   bool
	reached chan struct{} // closed when the write is held
	release chan struct{} // closed to let it go
	landed  chan struct{} // closed once it is stored
	once    sync.Once
}

func newHoldStore(s kv.Store) *holdStore {
	return &holdStore{Store: s, reached: make(chan struct{}), release: make(chan struct{}), landed: make(chan struct{})}
}

func (h *holdStore) arm() { h.mu.Lock(); h.armed = true; h.mu.Unlock() }

func (h *holdStore) letGo() { h.once.Do(func() { close(h.release) }) }

func (h *holdStore) Apply(ops []kv.Op) error {
	h.mu.Lock()
	hold := h.armed && len(ops) > 0
	for _, op := range ops {
		hold = hold && bytes.HasPrefix(op.Key, []byte("s/"))
	}
	if hold {
		h.armed = false
	}
	h.mu.Unlock()
	if !hold {
		return h.Store.Apply(ops)
	}
	close(h.reached)
	<-h.release
	defer close(h.landed)
	return h.Store.Apply(ops)
}

func (h *holdStore) Seek(prefix, start []byte, fn func(kv.Entry) ([]byte, error)) error {
	err := h.Store.Seek(prefix, start, fn)
	select {
	case <-h.reached:
		if bytes.Equal(prefix, []byte("s/")) {
			h.letGo()
			<-h.landed
		}
	default:
	}
	return err
}

func (h *holdStore) Update(key []byte, fn func([]byte) ([]byte, error)) error {
	return kv.Update(h.Store, key, fn)
}

// blockedOnKeysLock reports whether a goroutine created by the test named
// test is parked on a sync.Mutex that package keys is taking: a rewrap
// waiting at a stripe lock.
func blockedOnKeysLock(test string) bool {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if !strings.Contains(g, "[sync.Mutex.Lock") || !strings.Contains(g, "created by github.com/featurevault/featurevault/keys_test."+test+".") {
			continue
		}
		lines := strings.Split(g, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "sync.(*Mutex).Lock(") && i+2 < len(lines) &&
				strings.HasPrefix(lines[i+2], "github.com/featurevault/featurevault/keys.") {
				return true
			}
		}
	}
	return false
}

// TestRewrapWaitsForKeysWrappedBeforeTheRotation holds a subject key's
// write after it was wrapped under the old primary, rotates the KEK and
// rewraps. The held write must not land behind the rewrap's walk: the
// rewrap either waits for it or reports it did not finish. Success means
// the old version wraps nothing and can be retired.
func TestRewrapWaitsForKeysWrappedBeforeTheRotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup bool // create subject "a" before the held write
		write func(k *keys.Keyring, bi keys.BlindIndex) (tink.AEAD, error)
	}{
		{"creation", false, func(k *keys.Keyring, bi keys.BlindIndex) (tink.AEAD, error) {
			a, _, err := k.SubjectAEAD("a", bi, true)
			return a, err
		}},
		{"subject rotation", true, func(k *keys.Keyring, bi keys.BlindIndex) (tink.AEAD, error) {
			return k.BeginSubjectRotation("a", bi)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := testOptions(t)
			hs := newHoldStore(memKeystore(t))
			k, err := keys.Open(t.Context(), hs, o.WithCreate(true))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { k.Close() })
			subjects := makeSubjects(t, k, 5) // "customer" subjects sort after "a"
			v1 := status(t, k).Versions[0].ID
			bi := mustBI(t, k, "a", "a-1")
			if tt.setup {
				if _, _, err := k.SubjectAEAD("a", bi, true); err != nil {
					t.Fatal(err)
				}
			}

			hs.arm()
			type result struct {
				a   tink.AEAD
				err error
			}
			wrote := make(chan result, 1)
			go func() {
				a, err := tt.write(k, bi)
				wrote <- result{a, err}
			}()
			<-hs.reached // wrapped under v1, not yet stored, its stripe locked
			v2, err := k.RotateKEK(t.Context())
			if err != nil {
				hs.letGo()
				t.Fatalf("RotateKEK: %v", err)
			}
			type rewrapped struct {
				p   keys.RewrapProgress
				err error
			}
			done := make(chan rewrapped, 1)
			go func() {
				p, err := k.Rewrap(t.Context(), keys.RewrapOptions{})
				done <- rewrapped{p, err}
			}()
			var rw rewrapped
			deadline := time.After(30 * time.Second)
		wait:
			for {
				select {
				case rw = <-done:
					hs.letGo()
					break wait
				case <-deadline:
					hs.letGo()
					t.Fatal("the rewrap neither finished nor waited at a stripe lock within 30s")
				case <-time.After(time.Millisecond):
					if blockedOnKeysLock("TestRewrapWaitsForKeysWrappedBeforeTheRotation") {
						hs.letGo() // the rewrap waits for the held write: let it land
					}
				}
			}
			w := <-wrote
			if w.err != nil {
				t.Fatalf("the held write: %v", w.err)
			}
			ct, err := w.a.Encrypt([]byte("held"), ad)
			if err != nil {
				t.Fatal(err)
			}

			st := status(t, k)
			got := byVersion(st)[v1]
			if rw.err != nil {
				t.Fatalf("Rewrap = %+v, %v; want it to wait for the held write and succeed (v%d wraps %d subject keys)", rw.p, rw.err, v1, got)
			}
			if got != 0 {
				t.Fatalf("Rewrap reported success (%+v) but v%d still wraps %d subject keys; want 0", rw.p, v1, got)
			}
			if _, err := k.RetireKEK(t.Context(), v1); err != nil {
				t.Fatalf("RetireKEK(v%d) after the rewrap: %v", v1, err)
			}
			checkDecrypt(t, k, subjects)
			k2 := reopen(t, hs, o)
			a, _, err := k2.SubjectAEAD("a", bi, false)
			if err != nil {
				t.Fatalf("subject a after retiring v%d (primary v%d): %v", v1, v2.ID, err)
			}
			if pt, err := a.Decrypt(ct, ad); err != nil || string(pt) != "held" {
				t.Fatalf("subject a decrypt = %q, %v; want %q", pt, err, "held")
			}
		})
	}
}

// TestRewrapReportsCompletionOnlyWhenTheCensusAgrees plants a subject key
// that does not unwrap (another subject's key copied into its slot, under
// the old version), lets a first rewrap pass it and crash, then resumes.
// The resumed run never sees the planted key, so it must not report
// completion: it says the old version is still in use, and the next run,
// walking from the start, names the key that does not unwrap.
func TestRewrapReportsCompletionOnlyWhenTheCensusAgrees(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	k, ks := openNew(t, o)
	makeSubjects(t, k, 10)
	v1 := status(t, k).Versions[0].ID
	all := snapshot(t, ks)
	var stolen []byte
	for _, e := range all {
		if bytes.HasPrefix(e.Key, []byte("s/")) {
			stolen = e.Value
			break
		}
	}
	// s/ lp("a") bi: sorts before every "customer" subject.
	planted := append([]byte("s/\x01a"), make([]byte, 16)...)
	if err := ks.Apply([]kv.Op{{Key: planted, Value: stolen}}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	k.Close()

	fs := &failingStore{Store: ks}
	fs.ok.Store(1) // the batch holding the planted key commits, the next fails
	k1, err := keys.Open(t.Context(), fs, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k1.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 1}); !errors.Is(err, errInjected) {
		t.Fatalf("first Rewrap: err %v; want the injected failure", err)
	}
	k1.Close()

	k2 := reopen(t, ks, o)
	p, err := k2.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 1})
	st := status(t, k2)
	if !p.Resumed || p.Failed != 0 {
		t.Fatalf("resumed Rewrap = %+v; want a resumed run that never saw the planted key", p)
	}
	if !errors.Is(err, keys.ErrVersionInUse) {
		t.Fatalf("resumed Rewrap: err %v, v%d wraps %d subject keys; want ErrVersionInUse (the census disagrees)", err, v1, byVersion(st)[v1])
	}
	if !st.LastRewrap.IsZero() || st.Rewrap != nil {
		t.Fatalf("after the disagreeing run: last rewrap %v, cursor %+v; want no completion recorded and no cursor (next run walks from the start)", st.LastRewrap, st.Rewrap)
	}

	p, err = k2.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 1})
	if !errors.Is(err, keys.ErrSubjectUnwrap) || p.Resumed || p.Failed != 1 {
		t.Fatalf("third Rewrap = %+v, %v; want a fresh walk that finds 1 key that does not unwrap (ErrSubjectUnwrap)", p, err)
	}
	if st := status(t, k2); !st.LastRewrap.IsZero() {
		t.Fatalf("after a rewrap with a failed key: last rewrap %v; want none recorded", st.LastRewrap)
	}
}
