package keys_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/featurevault/featurevault/kv"
)

// sealed is one value encrypted under a subject's key, to check later that
// the subject still decrypts.
type sealed struct {
	bi   keys.BlindIndex
	ct   []byte
	want string
}

// makeSubjects creates n subjects of entity "customer" and encrypts one
// value under each.
func makeSubjects(t testing.TB, k *keys.Keyring, n int) []sealed {
	t.Helper()
	out := make([]sealed, n)
	for i := range out {
		bi := mustBI(t, k, "customer", fmt.Sprintf("c-%d", i))
		a, _, err := k.SubjectAEAD("customer", bi, true)
		if err != nil {
			t.Fatalf("SubjectAEAD: %v", err)
		}
		ct, err := a.Encrypt([]byte(fmt.Sprint(i)), ad)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = sealed{bi, ct, fmt.Sprint(i)}
	}
	return out
}

// checkDecrypt fails the test unless every subject's value decrypts.
func checkDecrypt(t testing.TB, k *keys.Keyring, subjects []sealed) {
	t.Helper()
	for i, s := range subjects {
		a, _, err := k.SubjectAEAD("customer", s.bi, false)
		if err != nil {
			t.Fatalf("subject %d: SubjectAEAD: %v", i, err)
		}
		got, err := a.Decrypt(s.ct, ad)
		if err != nil || string(got) != s.want {
			t.Fatalf("subject %d: decrypt = %q, %v; want %q", i, got, err, s.want)
		}
	}
}

// reopen opens the keyring again on ks (as after a restart: empty cache).
func reopen(t testing.TB, ks kv.Store, o keys.Options) *keys.Keyring {
	t.Helper()
	k, err := keys.Open(context.Background(), ks, o)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// byVersion returns the status's subject counts by version ID.
func byVersion(st keys.Status) map[uint32]int {
	m := map[uint32]int{}
	for _, v := range st.Versions {
		m[v.ID] = v.Subjects
	}
	return m
}

func status(t testing.TB, k *keys.Keyring) keys.Status {
	t.Helper()
	st, err := k.Status(context.Background())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

func TestRotateRewrapRetireKeepsEverySubjectReadable(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	k, ks := openNew(t, o)
	subjects := makeSubjects(t, k, 50)
	v1 := status(t, k).Versions[0].ID

	v2, err := k.RotateKEK(t.Context())
	if err != nil {
		t.Fatalf("RotateKEK: %v", err)
	}
	if v2.ID == v1 || !v2.Primary {
		t.Fatalf("RotateKEK = %+v; want a new primary version (old %d)", v2, v1)
	}
	more := makeSubjects(t, k, 60)[50:] // c-50..c-59 are new: wrapped by v2
	st := status(t, k)
	if got := byVersion(st); got[v1] != 50 || got[v2.ID] != 10 || st.Versions[0].ID != v2.ID {
		t.Fatalf("after rotate: subjects by version %v, primary %d; want %d:50 %d:10, primary %d", got, st.Versions[0].ID, v1, v2.ID, v2.ID)
	}

	p, err := k.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 7})
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	// 50 subject keys, the blind-index key and no service keysets.
	if p.Total != 51 || p.Done != 51 || p.Target != v2.ID || p.Resumed {
		t.Errorf("Rewrap = %+v; want 51 of 51 under %d, not resumed", p, v2.ID)
	}
	st = status(t, k)
	if got := byVersion(st); got[v1] != 0 || got[v2.ID] != 60 {
		t.Errorf("after rewrap: subjects by version %v; want all 60 under %d", got, v2.ID)
	}
	if st.LastRewrap.IsZero() || st.Rewrap != nil {
		t.Errorf("after rewrap: last rewrap %v, cursor %+v; want a time and no cursor", st.LastRewrap, st.Rewrap)
	}

	r, err := k.RetireKEK(t.Context(), v1)
	if err != nil {
		t.Fatalf("RetireKEK: %v", err)
	}
	if !r.Root.Local || r.Root.Destroyed != 1 || r.AlreadyRetired {
		t.Errorf("RetireKEK = %+v; want the local root rotated and 1 old root version destroyed", r)
	}
	checkDecrypt(t, k, subjects)
	checkDecrypt(t, k, more)
	k2 := reopen(t, ks, o) // no cache: every key is unwrapped again, from disk
	checkDecrypt(t, k2, append(subjects, more...))
	st = status(t, k2)
	if len(st.Versions) != 1 || st.Versions[0].ID != v2.ID || len(st.Retired) != 1 || st.Retired[0].ID != v1 || st.RootVersions != 1 {
		t.Errorf("status after retire: versions %+v, retired %+v, root versions %d; want only %d, %d retired, 1 root version", st.Versions, st.Retired, st.RootVersions, v2.ID, v1)
	}
	if r, err := k2.RetireKEK(t.Context(), v1); err != nil || !r.AlreadyRetired {
		t.Errorf("retiring %d again = %+v, %v; want AlreadyRetired, nil", v1, r, err)
	}
}

func TestRetireRefusesAndChangesNothing(t *testing.T) {
	t.Parallel()
	uri, path := localURI(t)
	k, ks := openNew(t, quietOptions(uri))
	makeSubjects(t, k, 12)
	v1 := status(t, k).Versions[0].ID
	v2, err := k.RotateKEK(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ks)
	rootBefore, _ := os.ReadFile(path)
	tests := []struct {
		name    string
		version uint32
		want    error
		says    string
	}{
		{"still wraps keys", v1, keys.ErrVersionInUse, "still wraps 12 subject keys and 1 service keysets; run `featurevault keys rewrap`"},
		{"primary", v2.ID, keys.ErrVersionInUse, "is the primary"},
		{"unknown", 12345, keys.ErrVersionNotFound, "keys status"},
	}
	for _, tt := range tests {
		_, err := k.RetireKEK(t.Context(), tt.version)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: RetireKEK(%d) = %v; want %v saying %q", tt.name, tt.version, err, tt.want, tt.says)
		}
	}
	if !sameEntries(before, snapshot(t, ks)) {
		t.Errorf("a refused retire changed the keystore")
	}
	if rootAfter, _ := os.ReadFile(path); string(rootAfter) != string(rootBefore) {
		t.Errorf("a refused retire changed the root key file")
	}
}

// failingStore is a keystore whose Apply fails once ok writes have
// succeeded: a crash in the middle of a long operation.
type failingStore struct {
	kv.Store
	ok atomic.Int64
}

var errInjected = errors.New("injected failure: the disk went away")

func (f *failingStore) Apply(ops []kv.Op) error {
	if f.ok.Add(-1) < 0 {
		return errInjected
	}
	return f.Store.Apply(ops)
}

func (f *failingStore) Update(key []byte, fn func([]byte) ([]byte, error)) error {
	return kv.Update(f.Store, key, fn)
}

func TestRewrapInterruptedMidwayResumesAndEverySubjectDecrypts(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	k, ks := openNew(t, o)
	subjects := makeSubjects(t, k, 200)
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	k.Close()

	// First run: the process "dies" on its fourth batch write.
	fs := &failingStore{Store: ks}
	fs.ok.Store(3)
	k1, err := keys.Open(t.Context(), fs, o)
	if err != nil {
		t.Fatal(err)
	}
	first, err := k1.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 25})
	if !errors.Is(err, errInjected) {
		t.Fatalf("first Rewrap: err %v; want the injected failure", err)
	}
	if first.Done != 1+3*25 { // the blind-index key, then three batches of 25
		t.Errorf("first Rewrap did %d keys before failing; want %d", first.Done, 1+3*25)
	}
	k1.Close()

	// A restart: a new keyring on the same keystore sees the cursor.
	k2 := reopen(t, ks, o)
	st := status(t, k2)
	if st.Rewrap == nil || st.Rewrap.Done != 75 {
		t.Fatalf("status after the crash: cursor %+v; want one that counts 75 subject keys done", st.Rewrap)
	}
	var reports int
	second, err := k2.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 25, Progress: func(keys.RewrapProgress) { reports++ }})
	if err != nil {
		t.Fatalf("resumed Rewrap: %v", err)
	}
	if !second.Resumed || second.Total != 125 || second.Done != 125 {
		t.Errorf("resumed Rewrap = %+v; want resumed, 125 of 125 remaining keys", second)
	}
	if reports < 5 {
		t.Errorf("resumed Rewrap reported progress %d times; want once per batch (at least 5)", reports)
	}
	checkDecrypt(t, k2, subjects)
	st = status(t, k2)
	if st.Versions[1].Subjects != 0 || st.Versions[1].Service != 0 || st.Rewrap != nil {
		t.Errorf("after the resumed rewrap the old version still wraps %d subject keys, %d service keysets (cursor %+v); want none", st.Versions[1].Subjects, st.Versions[1].Service, st.Rewrap)
	}
	if _, err := k2.RetireKEK(t.Context(), st.Versions[1].ID); err != nil {
		t.Fatalf("retire after the resumed rewrap: %v", err)
	}
	checkDecrypt(t, reopen(t, ks, o), subjects)
}

func TestRewrapLeavesErasedSubjectsErased(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	subjects := makeSubjects(t, k, 30)
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	var erased bool
	_, err := k.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 10, Progress: func(p keys.RewrapProgress) {
		if !erased && p.Done > 1 { // between two batches, erase subjects both done and still to do
			erased = true
			bis := []keys.BlindIndex{subjects[0].bi, subjects[29].bi}
			if existed, err := k.ForgetSubjects("customer", bis); err != nil || !existed[0] || !existed[1] {
				t.Errorf("ForgetSubjects = %v, %v", existed, err)
			}
		}
	}})
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	for _, i := range []int{0, 29} {
		if _, _, err := k.SubjectAEAD("customer", subjects[i].bi, false); !errors.Is(err, keys.ErrSubjectNotFound) {
			t.Errorf("subject %d erased during the rewrap: err %v; want ErrSubjectNotFound (rewrap resurrected it)", i, err)
		}
	}
	checkDecrypt(t, k, subjects[1:29])
}

func TestKeyOperationsRefuseWhileRewrapRuns(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	makeSubjects(t, k, 20)
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	var errs []error
	_, err := k.Rewrap(t.Context(), keys.RewrapOptions{BatchSize: 5, Progress: func(p keys.RewrapProgress) {
		if len(errs) == 0 {
			_, e1 := k.RotateKEK(context.Background())
			_, e2 := k.RetireKEK(context.Background(), 1)
			_, e3 := k.Rewrap(context.Background(), keys.RewrapOptions{})
			errs = []error{e1, e2, e3}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if !errors.Is(e, keys.ErrBusy) {
			t.Errorf("operation %d during a rewrap: err %v; want ErrBusy", i, e)
		}
	}
}

func TestRotateRootKeepsThenDestroysOldRootVersions(t *testing.T) {
	t.Parallel()
	uri, path := localURI(t)
	o := quietOptions(uri)
	k, ks := openNew(t, o)
	subjects := makeSubjects(t, k, 3)
	old := memKeystore(t) // a backup of the keystore
	for _, e := range snapshot(t, ks) {
		if err := old.Apply([]kv.Op{{Key: e.Key, Value: e.Value}}); err != nil {
			t.Fatal(err)
		}
	}

	r, err := k.RotateRoot(t.Context(), false)
	if err != nil {
		t.Fatalf("RotateRoot: %v", err)
	}
	info, _ := localkms.Info(path)
	if !r.Local || r.Destroyed != 0 || len(info.Versions) != 2 || r.Version != fmt.Sprintf("%08x", info.Primary) {
		t.Errorf("RotateRoot(keep) = %+v, root file %+v; want 2 versions, the KEK under the primary", r, info)
	}
	checkDecrypt(t, reopen(t, old, o), subjects) // the backup still opens: the old version is kept

	if r, err = k.RotateRoot(t.Context(), true); err != nil || r.Destroyed != 2 {
		t.Fatalf("RotateRoot(destroy) = %+v, %v; want 2 older versions destroyed", r, err)
	}
	checkDecrypt(t, reopen(t, ks, o), subjects)
	if _, err := keys.Open(t.Context(), old, o); !errors.Is(err, keys.ErrKEKUnwrap) {
		t.Errorf("opening the backup after the old root versions were destroyed: err %v; want ErrKEKUnwrap", err)
	}
}

func TestSubjectRotationReplacesTheKey(t *testing.T) {
	t.Parallel()
	o := testOptions(t)
	k, ks := openNew(t, o)
	s := makeSubjects(t, k, 1)[0]
	a, err := k.BeginSubjectRotation("customer", s.bi)
	if err != nil {
		t.Fatalf("BeginSubjectRotation: %v", err)
	}
	if got, err := a.Decrypt(s.ct, ad); err != nil || string(got) != "0" {
		t.Fatalf("the rotating AEAD does not decrypt the old key's value: %q, %v", got, err)
	}
	fresh, err := a.Encrypt([]byte("new"), ad)
	if err != nil {
		t.Fatal(err)
	}
	again, err := k.BeginSubjectRotation("customer", s.bi) // an interrupted rotation, run again
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Decrypt(fresh, ad); err != nil {
		t.Fatalf("a second BeginSubjectRotation replaced the new key: %v", err)
	}
	if err := k.FinishSubjectRotation("customer", s.bi); err != nil {
		t.Fatalf("FinishSubjectRotation: %v", err)
	}
	for _, kr := range []*keys.Keyring{k, reopen(t, ks, o)} {
		now, _, err := kr.SubjectAEAD("customer", s.bi, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := now.Decrypt(s.ct, ad); err == nil {
			t.Errorf("the old key's value still decrypts after the rotation finished")
		}
		if got, err := now.Decrypt(fresh, ad); err != nil || string(got) != "new" {
			t.Errorf("the new key's value = %q, %v; want %q", got, err, "new")
		}
	}
	if _, err := k.BeginSubjectRotation("customer", mustBI(t, k, "customer", "never")); !errors.Is(err, keys.ErrSubjectNotFound) {
		t.Errorf("rotating a subject without a key: err %v; want ErrSubjectNotFound", err)
	}
}

func TestForgetSubjectsReportsWhichExisted(t *testing.T) {
	t.Parallel()
	k, _ := openNew(t, testOptions(t))
	s := makeSubjects(t, k, 2)
	absent := mustBI(t, k, "customer", "absent")
	existed, err := k.ForgetSubjects("customer", []keys.BlindIndex{s[0].bi, absent, s[1].bi})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(existed) != "[true false true]" {
		t.Errorf("ForgetSubjects existed = %v; want [true false true]", existed)
	}
	as, _, err := k.SubjectAEADs("customer", []keys.BlindIndex{s[0].bi, s[1].bi}, false)
	if err != nil || as[0] != nil || as[1] != nil {
		t.Errorf("after ForgetSubjects: %v, %v; want no keys", as, err)
	}
	if got := k.Stats().SubjectsForgotten; got != 2 {
		t.Errorf("SubjectsForgotten = %d; want 2", got)
	}
}

func TestPrimaryAgeFollowsTheClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	o := testOptions(t).WithClock(func() time.Time { return *clock.Load() })
	k, _ := openNew(t, o)
	later := now.Add(48 * time.Hour)
	clock.Store(&later)
	if age, ok, err := k.PrimaryAge(); err != nil || !ok || age != 48*time.Hour {
		t.Errorf("PrimaryAge = %v, %v, %v; want 48h", age, ok, err)
	}
	if _, err := k.RotateKEK(t.Context()); err != nil {
		t.Fatal(err)
	}
	if age, ok, _ := k.PrimaryAge(); !ok || age != 0 {
		t.Errorf("PrimaryAge after rotation = %v, %v; want 0", age, ok)
	}
	st := status(t, k)
	if !st.Versions[0].Created.Equal(later) || !st.Versions[1].Created.Equal(now) {
		t.Errorf("version dates %v, %v; want %v, %v", st.Versions[0].Created, st.Versions[1].Created, later, now)
	}
}
