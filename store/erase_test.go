package store_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// activitySpec adds a second view of customer, so that erasure and export
// must cover every view of the entity.
const activitySpec = `
feature_views:
  - name: activity
    entity: customer
    fields:
      - {name: clicks, type: int64}
`

// openSubjectStore opens a store with the all-types spec and the activity
// view, and writes two profile rows and one activity row for each key.
func openSubjectStore(t *testing.T, dir string, keys ...string) *store.Store {
	t.Helper()
	s := openStore(t, dir)
	spec, err := store.ParseSpec([]byte(activitySpec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplySpec(spec); err != nil {
		t.Fatal(err)
	}
	writeSubjects(t, s, keys...)
	return s
}

var (
	t1 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 = t1.Add(time.Hour)
)

func writeSubjects(t *testing.T, s *store.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		old := sampleValues()
		old["age"] = int64(40)
		rows := []store.Row{{EntityKey: k, EventTime: t1, Values: old}, {EntityKey: k, EventTime: t2, Values: sampleValues()}}
		if _, err := s.Write(t.Context(), "profile", rows); err != nil {
			t.Fatalf("write profile: %v", err)
		}
		if _, err := s.Write(t.Context(), "activity", []store.Row{{EntityKey: k, EventTime: t1, Values: map[string]any{"clicks": int64(7)}}}); err != nil {
			t.Fatalf("write activity: %v", err)
		}
	}
}

// present reports whether GetOnline finds each key in profile.
func present(t *testing.T, ctx context.Context, s *store.Store, keys ...string) []bool {
	t.Helper()
	res, err := s.GetOnline(ctx, "profile", keys, []string{"age"})
	if err != nil {
		t.Fatalf("GetOnline: %v", err)
	}
	out := make([]bool, len(keys))
	for i, r := range res.Rows {
		out[i] = r.Statuses[0] == store.Present
	}
	return out
}

// scannedKeys returns the entity keys a full scan of view returns.
func scannedKeys(t *testing.T, s *store.Store, view string) []string {
	t.Helper()
	sc, err := s.Scan(t.Context(), view, store.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var keys []string
	for sc.Next() {
		for i := range sc.Batch().Len() {
			keys = append(keys, sc.Batch().EntityKey(i))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan %s: %v", view, err)
	}
	slices.Sort(keys)
	return keys
}

// kvKeysWith counts the data KV's keys that contain b.
func kvKeysWith(t *testing.T, s *store.Store, b []byte) int {
	t.Helper()
	n := 0
	s.KV().Scan(nil, func(e kv.Entry) error {
		if strings.Contains(string(e.Key), string(b)) {
			n++
		}
		return nil
	})
	return n
}

func TestEraseDestroysKeyRowsAndRecordAndReadsNoLongerSeeTheSubject(t *testing.T) {
	t.Parallel()
	s := openSubjectStore(t, t.TempDir(), "c-1", "c-2")
	defer s.Close()
	bi, _ := s.Keyring().BlindIndex("customer", "c-1")

	got, err := s.Erase(t.Context(), "customer", []string{"c-1", "c-1"}, store.EraseOptions{})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	want := store.Erasure{BlindIndex: bi, KeyDestroyed: true, RecordDeleted: true, Rows: 3, Views: []string{"activity", "profile"}, ErasedAt: got[0].ErasedAt}
	if len(got) != 2 || !reflect.DeepEqual(got[0], want) || !reflect.DeepEqual(got[1], want) {
		t.Errorf("Erase receipts = %+v; want twice %+v", got, want)
	}
	if p := present(t, t.Context(), s, "c-1", "c-2"); !reflect.DeepEqual(p, []bool{false, true}) {
		t.Errorf("GetOnline after erasing c-1: present %v; want [false true]", p)
	}
	for _, view := range []string{"profile", "activity"} {
		if k := scannedKeys(t, s, view); !reflect.DeepEqual(k, []string{"c-2", "c-2"}[:map[string]int{"profile": 2, "activity": 1}[view]]) {
			t.Errorf("scan of %s after erasing c-1 = %v; want only c-2", view, k)
		}
	}
	if n := kvKeysWith(t, s, bi[:]); n != 0 {
		t.Errorf("%d data keys still name the erased subject's blind index; want none", n)
	}
	if _, err := s.ExportSubject(t.Context(), "customer", "c-1", store.ExportSubjectOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExportSubject after erasure: err %v; want NotFound", err)
	}
	again, err := s.Erase(t.Context(), "customer", []string{"c-1"}, store.EraseOptions{})
	if err != nil || again[0].KeyDestroyed || again[0].RecordDeleted || again[0].Rows != 0 {
		t.Errorf("erasing again = %+v, %v; want a receipt that destroyed nothing", again, err)
	}
	writeSubjects(t, s, "c-1") // without suppression the subject may come back, under a fresh key
	if p := present(t, t.Context(), s, "c-1"); !p[0] {
		t.Errorf("c-1 written again after erasure is not readable")
	}
}

func TestEraseWithSuppressionRefusesLaterWritesAndChangesNothing(t *testing.T) {
	t.Parallel()
	s := openSubjectStore(t, t.TempDir(), "c-1")
	defer s.Close()
	got, err := s.Erase(t.Context(), "customer", []string{"c-1"}, store.EraseOptions{Suppress: true})
	if err != nil || !got[0].Suppressed {
		t.Fatalf("Erase(suppress) = %+v, %v", got, err)
	}
	rows := []store.Row{{EntityKey: "c-9", Values: map[string]any{"age": int64(1)}}, {EntityKey: "c-1", Values: map[string]any{"age": int64(2)}}}
	_, err = s.Write(t.Context(), "profile", rows)
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "row 1") || !strings.Contains(err.Error(), got[0].BlindIndex.String()) || strings.Contains(err.Error(), "c-1") {
		t.Errorf("write of a suppressed subject: err %v; want a conflict naming row 1 and the blind index, never the key", err)
	}
	if p := present(t, t.Context(), s, "c-9", "c-1"); p[0] || p[1] {
		t.Errorf("the refused write stored rows: present %v", p)
	}
	_, err = s.ExportSubject(t.Context(), "customer", "c-1", store.ExportSubjectOptions{})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "suppression") {
		t.Errorf("ExportSubject of a suppressed subject: err %v; want NotFound mentioning the suppression", err)
	}
}

func TestEraseWaitsForWritesInFlightAndWinsAgainstThem(t *testing.T) {
	t.Parallel()
	s := openSubjectStore(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var refused int
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, err := s.Write(ctx, "profile", []store.Row{{EntityKey: "c-1", EventTime: t1.Add(time.Duration(i)), Values: map[string]any{"age": int64(i)}}})
			if errors.Is(err, store.ErrConflict) {
				refused++
			} else if err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	})
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Erase(ctx, "customer", []string{"c-1"}, store.EraseOptions{Suppress: true}); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	if refused == 0 {
		t.Errorf("no write was refused after the erasure with suppression")
	}
	bi, _ := s.Keyring().BlindIndex("customer", "c-1")
	if n := kvKeysWith(t, s, bi[:]); n != 1 { // the suppression entry only
		t.Errorf("%d data keys name the erased subject; want only its suppression entry (no row written after the erasure)", n)
	}
}

func TestRestrictExcludesTheSubjectFromReadsForThatPurpose(t *testing.T) {
	t.Parallel()
	s := openSubjectStore(t, t.TempDir(), "c-1", "c-2")
	defer s.Close()
	ctx := t.Context()
	training, analytics := store.WithPurpose(ctx, "training"), store.WithPurpose(ctx, "analytics")
	if _, added, err := s.Restrict(ctx, "customer", "c-1", "training"); err != nil || !added {
		t.Fatalf("Restrict = %v, %v", added, err)
	}
	if _, added, _ := s.Restrict(ctx, "customer", "c-1", "training"); added {
		t.Errorf("restricting twice reported a new restriction")
	}
	tests := []struct {
		name string
		ctx  context.Context
		want []bool
	}{
		{"training", training, []bool{false, true}},
		{"analytics", analytics, []bool{true, true}},
		{"no purpose", ctx, []bool{true, true}},
	}
	for _, tt := range tests {
		if got := present(t, tt.ctx, s, "c-1", "c-2"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("read for %s: present %v; want %v", tt.name, got, tt.want)
		}
	}
	if _, _, err := s.Restrict(ctx, "customer", "c-2", store.AllPurposes); err != nil {
		t.Fatal(err)
	}
	if got := present(t, ctx, s, "c-1", "c-2"); !reflect.DeepEqual(got, []bool{true, false}) {
		t.Errorf("read with no purpose after restricting c-2 for every purpose: present %v; want [true false]", got)
	}
	_, rs, err := s.Restrictions("customer", "c-1")
	if err != nil || len(rs) != 1 || rs[0].Purpose != "training" || rs[0].Since.IsZero() {
		t.Errorf("Restrictions(c-1) = %+v, %v; want training with a time", rs, err)
	}
	if _, removed, err := s.Unrestrict(ctx, "customer", "c-1", "training"); err != nil || !removed {
		t.Errorf("Unrestrict = %v, %v; want removed", removed, err)
	}
	if got := present(t, training, s, "c-1"); !got[0] {
		t.Errorf("c-1 is still excluded from training reads after Unrestrict")
	}
	if _, removed, err := s.Unrestrict(ctx, "customer", "c-9", "training"); err != nil || removed {
		t.Errorf("Unrestrict of an unrestricted subject = %v, %v; want false, nil", removed, err)
	}
	for _, bad := range []string{"", "two words", strings.Repeat("p", 65)} {
		if _, _, err := s.Restrict(ctx, "customer", "c-1", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Restrict(purpose %q): err %v; want ErrInvalid", bad, err)
		}
	}
}

func TestExportSubjectReturnsEveryViewDecrypted(t *testing.T) {
	t.Parallel()
	s := openSubjectStore(t, t.TempDir(), "c-1", "c-2")
	defer s.Close()
	if _, _, err := s.Restrict(t.Context(), "customer", "c-1", "training"); err != nil {
		t.Fatal(err)
	}
	for _, all := range []bool{false, true} {
		x, err := s.ExportSubject(store.WithPurpose(t.Context(), "training"), "customer", "c-1", store.ExportSubjectOptions{AllRows: all})
		if err != nil {
			t.Fatalf("ExportSubject(all %v): %v", all, err)
		}
		if x.EntityKey != "c-1" || len(x.Views) != 2 || x.Views[0].View != "activity" || x.Views[1].View != "profile" {
			t.Fatalf("export views = %+v; want activity and profile of c-1", x.Views)
		}
		profile := x.Views[1]
		if want := map[bool]int{false: 1, true: 2}[all]; len(profile.Rows) != want {
			t.Fatalf("export of profile (all %v) has %d rows; want %d", all, len(profile.Rows), want)
		}
		latest := profile.Rows[0]
		for i, f := range profile.Fields {
			if want := sampleValues()[f.Name]; !reflect.DeepEqual(latest.Values[i], want) {
				t.Errorf("export %s = %#v; want %#v", f.Name, latest.Values[i], want)
			}
		}
		if !latest.EventTime.Equal(t2) || x.Views[0].Rows[0].Values[0] != int64(7) {
			t.Errorf("export: latest profile row at %v, clicks %v; want %v, 7", latest.EventTime, x.Views[0].Rows[0].Values[0], t2)
		}
		if all && profile.Rows[1].Values[1] != int64(40) {
			t.Errorf("export of every row: the older row's age = %v; want 40", profile.Rows[1].Values[1])
		}
		if len(x.Restrictions) != 1 || x.Restrictions[0].Purpose != "training" {
			t.Errorf("export restrictions = %+v; want training", x.Restrictions)
		}
	}
}

func TestRotateSubjectKeyReencryptsEveryValueUnderAFreshKey(t *testing.T) {
	t.Parallel()
	s := openSubjectStore(t, t.TempDir(), "c-1", "c-2")
	defer s.Close()
	bi, _ := s.Keyring().BlindIndex("customer", "c-1")
	oldKey, _, err := s.Keyring().SubjectAEAD("customer", bi, false)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	s.KV().Scan(nil, func(e kv.Entry) error { before[string(e.Key)] = string(e.Value); return nil })

	r, err := s.RotateSubjectKey(t.Context(), "customer", "c-1")
	if err != nil {
		t.Fatalf("RotateSubjectKey: %v", err)
	}
	if r.Rows != 3 || !reflect.DeepEqual(r.Views, []string{"activity", "profile"}) || r.BlindIndex != bi {
		t.Errorf("RotateSubjectKey = %+v; want 3 rows in activity and profile", r)
	}
	changed, same := 0, 0
	s.KV().Scan(nil, func(e kv.Entry) error {
		if !strings.Contains(string(e.Key), string(bi[:])) {
			return nil
		}
		if before[string(e.Key)] == string(e.Value) {
			same++
		} else {
			changed++
		}
		return nil
	})
	if changed != 4 || same != 0 { // 3 rows and the subject record
		t.Errorf("after rotation %d of the subject's records changed and %d did not; want 4 and 0", changed, same)
	}
	x, err := s.ExportSubject(t.Context(), "customer", "c-1", store.ExportSubjectOptions{AllRows: true})
	if err != nil {
		t.Fatalf("export after rotation: %v", err)
	}
	if got := x.Views[1].Rows[0].Values[3]; got != "a@example.com" {
		t.Errorf("email after rotation = %v; want a@example.com", got)
	}
	if k := scannedKeys(t, s, "activity"); !reflect.DeepEqual(k, []string{"c-1", "c-2"}) {
		t.Errorf("scan after rotation = %v; want the raw keys [c-1 c-2] (subject record re-encrypted)", k)
	}
	newKey, _, _ := s.Keyring().SubjectAEAD("customer", bi, false)
	ct, _ := newKey.Encrypt([]byte("x"), []byte("ad"))
	if _, err := oldKey.Decrypt(ct, []byte("ad")); err == nil {
		t.Errorf("the old subject key decrypts what the new one encrypts: the key did not change")
	}
	if _, err := s.RotateSubjectKey(t.Context(), "customer", "c-9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotating a subject without data: err %v; want NotFound", err)
	}
}

// copyDir copies a directory tree (a cold backup).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		return errors.Join(err, out.Close())
	})
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}

// TestBackupCannotResurrectAnErasedSubjectAfterRetire is the shred horizon
// made concrete. A cold backup of the data and keystore directories is taken
// before a subject is erased. After the erasure the KEK rotates and every
// key is re-wrapped; until the old KEK version is retired, the backup opened
// with the current root key file still decrypts the erased subject: the
// horizon is real. Once it is retired, the same backup no longer opens.
func TestBackupCannotResurrectAnErasedSubjectAfterRetire(t *testing.T) {
	t.Parallel()
	dir, backup := t.TempDir(), t.TempDir()
	s := openSubjectStore(t, dir, "c-1", "c-2")
	s.Close()
	copyDir(t, filepath.Join(dir, "data"), filepath.Join(backup, "data"))
	copyDir(t, filepath.Join(dir, "keystore"), filepath.Join(backup, "keystore"))
	s = openStore(t, dir)
	defer s.Close()
	ctx := t.Context()

	if _, err := s.Erase(ctx, "customer", []string{"c-1"}, store.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	kr := s.Keyring()
	st, _ := kr.Status(ctx)
	old := st.Versions[0].ID
	if _, err := kr.RotateKEK(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Rewrap(ctx, keys.RewrapOptions{}); err != nil {
		t.Fatal(err)
	}

	rootURI, _ := store.LocalKMSURI(dir) // the current root key file
	restore := func() (*store.Store, error) {
		return store.Open(ctx, store.DefaultOptions(backup).WithKMSURI(rootURI).WithLogger(quietLog).WithSyncWrites(false))
	}
	b, err := restore()
	if err != nil {
		t.Fatalf("before retire, opening the backup with the current root key: %v; want it to open", err)
	}
	if p := present(t, ctx, b, "c-1"); !p[0] {
		t.Errorf("before retire, the backup does not show the erased subject; the test would prove nothing")
	}
	b.Close()

	if _, err := kr.RetireKEK(ctx, old); err != nil {
		t.Fatalf("RetireKEK: %v", err)
	}
	if b, err := restore(); !errors.Is(err, keys.ErrKEKUnwrap) {
		if err == nil {
			b.Close()
		}
		t.Errorf("after retire, opening the backup with the current root key: err %v; want ErrKEKUnwrap (the erased subject must stay unreadable)", err)
	}
	if p := present(t, ctx, s, "c-1", "c-2"); !reflect.DeepEqual(p, []bool{false, true}) {
		t.Errorf("live store after retire: present %v; want [false true]", p)
	}
	s.Close()
	s2 := openStore(t, dir) // a restart: every key unwrapped afresh under the new KEK and root
	defer s2.Close()
	if p := present(t, ctx, s2, "c-2"); !p[0] {
		t.Errorf("after retire and restart, c-2 is not readable")
	}
}
