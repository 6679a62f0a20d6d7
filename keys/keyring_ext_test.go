package keys_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/featurevault/featurevault/kv"
)

func TestOpenRoundTripAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	uri, _ := localURI(t)
	o := quietOptions(uri)
	ad := []byte("view/field/event-time")

	ks := diskKeystore(t, dir)
	k, err := keys.Open(t.Context(), ks, o.WithCreate(true))
	if err != nil {
		t.Fatalf("Open (create): %v", err)
	}
	bi1, err := k.BlindIndex("customer", "c-42")
	if err != nil {
		t.Fatalf("BlindIndex: %v", err)
	}
	a, created, err := k.SubjectAEAD("customer", bi1, true)
	if err != nil || !created {
		t.Fatalf("SubjectAEAD(create) = created %v, err %v; want created, nil", created, err)
	}
	ct, err := a.Encrypt([]byte("52000.5"), ad)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	k.Close()
	ks.Close()

	ks = diskKeystore(t, dir)
	defer ks.Close()
	k, err = keys.Open(t.Context(), ks, o) // WithCreate(false): keys must be found
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer k.Close()
	bi2, err := k.BlindIndex("customer", "c-42")
	if err != nil {
		t.Fatalf("BlindIndex after reopen: %v", err)
	}
	if bi2 != bi1 {
		t.Errorf("blind index after reopen = %s, want %s", bi2, bi1)
	}
	a, created, err = k.SubjectAEAD("customer", bi2, false)
	if err != nil || created {
		t.Fatalf("SubjectAEAD after reopen = created %v, err %v; want not created, nil", created, err)
	}
	got, err := a.Decrypt(ct, ad)
	if err != nil {
		t.Fatalf("decrypt after reopen: %v", err)
	}
	if string(got) != "52000.5" {
		t.Errorf("decrypt after reopen = %q, want %q", got, "52000.5")
	}
}

// provisioned returns an in-memory keystore holding keys under a local root,
// and the root's URI and path.
func provisioned(t *testing.T) (kv.Store, string, string) {
	t.Helper()
	uri, path := localURI(t)
	ks := memKeystore(t)
	k, err := keys.Open(t.Context(), ks, quietOptions(uri).WithCreate(true))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	bi, _ := k.BlindIndex("customer", "c-1")
	if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
		t.Fatalf("SubjectAEAD: %v", err)
	}
	k.Close()
	return ks, uri, path
}

func TestOpenRefusesAndChangesNothing(t *testing.T) {
	t.Parallel()
	const garbage = "SECRET-LOOKING-BYTES{"
	tests := []struct {
		name string
		// setup returns the keystore and options to open with, and the root file path to watch.
		setup    func(t *testing.T) (kv.Store, keys.Options, string)
		wantErrs []error
		wantMsg  []string // substrings; "$PATH" stands for the root file path
	}{{
		name: "empty keystore, creation not allowed",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			uri, path := localURI(t)
			return memKeystore(t), quietOptions(uri).WithCreate(false), path
		},
		wantErrs: []error{keys.ErrNoKeys},
		wantMsg:  []string{"restore the keystore directory"},
	}, {
		name: "root file missing, keystore holds a KEK",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			ks, uri, path := provisioned(t)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			return ks, quietOptions(uri).WithCreate(true), path // even with create: never a new root over a KEK
		},
		wantErrs: []error{keys.ErrRootUnavailable, localkms.ErrRootMissing},
		wantMsg:  []string{"$PATH", "restore"},
	}, {
		name: "root file corrupt",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			ks, uri, path := provisioned(t)
			if err := os.WriteFile(path, []byte(garbage), 0o600); err != nil {
				t.Fatal(err)
			}
			return ks, quietOptions(uri), path
		},
		wantErrs: []error{keys.ErrRootUnavailable, localkms.ErrRootCorrupt},
		wantMsg:  []string{"$PATH"},
	}, {
		name: "root file corrupt, empty keystore, creation allowed",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			uri, path := localURI(t)
			os.MkdirAll(filepath.Dir(path), 0o700)
			if err := os.WriteFile(path, []byte(garbage), 0o600); err != nil {
				t.Fatal(err)
			}
			return memKeystore(t), quietOptions(uri).WithCreate(true), path
		},
		wantErrs: []error{keys.ErrRootUnavailable, localkms.ErrRootCorrupt},
		wantMsg:  []string{"$PATH"},
	}, {
		name: "root file of another deployment",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			ks, uri, path := provisioned(t)
			os.Remove(path)
			if err := localkms.Create(path); err != nil {
				t.Fatal(err)
			}
			return ks, quietOptions(uri), path
		},
		wantErrs: []error{keys.ErrKEKUnwrap},
		wantMsg:  []string{"$PATH", "root key this keystore was created under"},
	}, {
		name: "subject keys but no KEK",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			ks, uri, path := provisioned(t)
			if err := ks.Apply([]kv.Op{{Key: []byte("m/kek"), Delete: true}}); err != nil {
				t.Fatal(err)
			}
			return ks, quietOptions(uri).WithCreate(true), path
		},
		wantErrs: []error{keys.ErrKeystoreDamaged},
		wantMsg:  []string{"no KEK", "restore the keystore directory"},
	}, {
		name: "unsupported KMS scheme",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			_, path := localURI(t)
			return memKeystore(t), quietOptions("vault://kek").WithCreate(true), path
		},
		wantErrs: []error{keys.ErrUnsupportedKMS},
		wantMsg:  []string{`"vault://"`, "local://", "hcvault://", "aws-kms://", "gcp-kms://", "WithKMSClient"},
	}, {
		name: "no KMS URI",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			_, path := localURI(t)
			return memKeystore(t), quietOptions("").WithCreate(true), path
		},
		wantErrs: []error{keys.ErrNoKMSURI},
		wantMsg:  []string{"WithKMSURI"},
	}, {
		name: "relative local path",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			return memKeystore(t), quietOptions("local://root.json").WithCreate(true), "root.json"
		},
		wantErrs: []error{keys.ErrInvalidArgument},
		wantMsg:  []string{"absolute path"},
	}, {
		name: "zero cache size",
		setup: func(t *testing.T) (kv.Store, keys.Options, string) {
			uri, path := localURI(t)
			return memKeystore(t), quietOptions(uri).WithCreate(true).WithCacheSize(0), path
		},
		wantErrs: []error{keys.ErrInvalidArgument},
		wantMsg:  []string{"WithCacheSize"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ks, o, path := tt.setup(t)
			before := snapshot(t, ks)
			fileBefore, fileErrBefore := os.ReadFile(path)

			k, err := keys.Open(t.Context(), ks, o)
			if err == nil {
				k.Close()
				t.Fatalf("Open succeeded; want refusal")
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("Open error = %q; want errors.Is %q", err, want)
				}
			}
			for _, want := range tt.wantMsg {
				want = strings.ReplaceAll(want, "$PATH", path)
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open error = %q; want it to contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), garbage) {
				t.Errorf("Open error = %q; it quotes the root file's contents", err)
			}
			if after := snapshot(t, ks); !sameEntries(before, after) {
				t.Errorf("keystore changed by a refused Open: %d entries before, %d after", len(before), len(after))
			}
			fileAfter, fileErrAfter := os.ReadFile(path)
			if !bytes.Equal(fileBefore, fileAfter) || (fileErrBefore == nil) != (fileErrAfter == nil) {
				t.Errorf("root file %s changed by a refused Open (existed before: %v, after: %v)", path, fileErrBefore == nil, fileErrAfter == nil)
			}
		})
	}
}

func TestOpenCreatesPrivateRootFileAndWarns(t *testing.T) {
	t.Parallel()
	uri, path := localURI(t)
	var logs bytes.Buffer
	o := keys.DefaultOptions().WithKMSURI(uri).WithCreate(true).
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	k, err := keys.Open(t.Context(), memKeystore(t), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer k.Close()

	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if got := fi.Mode(); got != want {
			t.Errorf("mode of %s = %v, want %v", p, got, want)
		}
	}
	for _, want := range []string{"level=WARN", "production should use a real KMS", "hcvault://", path} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log = %q; want it to contain %q", logs.String(), want)
		}
	}
}

func TestOpenReusesExistingRootFile(t *testing.T) {
	t.Parallel()
	uri, path := localURI(t)
	if err := localkms.Create(path); err != nil {
		t.Fatalf("Create: %v", err)
	}
	before, _ := os.ReadFile(path)
	k, err := keys.Open(t.Context(), memKeystore(t), quietOptions(uri).WithCreate(true))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	k.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("Open rewrote the existing root file %s", path)
	}
}

func TestOpenCallsKMSOnlyAtOpen(t *testing.T) {
	t.Parallel()
	ks, uri, _ := provisioned(t)
	kms := &countingClient{KMSClient: localkms.NewClient()}
	k, err := keys.Open(t.Context(), ks, quietOptions(uri).WithKMSClient(kms))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer k.Close()
	check := func(when string) {
		t.Helper()
		if got, want := [3]int64{kms.getAEAD.Load(), kms.decrypt.Load(), kms.encrypt.Load()}, [3]int64{1, 1, 0}; got != want {
			t.Errorf("%s: KMS calls (GetAEAD, Decrypt, Encrypt) = %v, want %v", when, got, want)
		}
	}
	check("after Open")

	const n = 200
	for i := range n {
		bi, err := k.BlindIndex("customer", string(rune('a'+i%26))+string(rune(i)))
		if err != nil {
			t.Fatal(err)
		}
		a, _, err := k.SubjectAEAD("customer", bi, true)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := a.Encrypt([]byte{byte(i)}, []byte("ad"))
		if _, err := a.Decrypt(ct, []byte("ad")); err != nil {
			t.Fatal(err)
		}
		if err := k.ForgetSubject("customer", bi); err != nil {
			t.Fatal(err)
		}
	}
	check("after subject operations")
	if got := k.Stats().KMSCalls; got != 2 {
		t.Errorf("Stats().KMSCalls = %d, want 2", got)
	}
}

func TestHasKeys(t *testing.T) {
	t.Parallel()
	empty := memKeystore(t)
	full, _, _ := provisioned(t)
	for name, tt := range map[string]struct {
		ks   kv.Store
		want bool
	}{"empty": {empty, false}, "provisioned": {full, true}} {
		got, err := keys.HasKeys(tt.ks)
		if err != nil || got != tt.want {
			t.Errorf("HasKeys(%s) = %v, %v; want %v, nil", name, got, err, tt.want)
		}
	}
}

func TestClosedKeyringRefuses(t *testing.T) {
	t.Parallel()
	k, ks := openNew(t, testOptions(t))
	bi, _ := k.BlindIndex("customer", "c-1")
	if err := k.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := k.BlindIndex("customer", "c-1"); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("BlindIndex after Close: err %v, want ErrClosed", err)
	}
	if _, _, err := k.SubjectAEAD("customer", bi, true); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("SubjectAEAD after Close: err %v, want ErrClosed", err)
	}
	if err := k.ForgetSubject("customer", bi); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("ForgetSubject after Close: err %v, want ErrClosed", err)
	}
	if ok, err := keys.HasKeys(ks); err != nil || !ok {
		t.Errorf("keystore after Close: HasKeys = %v, %v; want true, nil (Close must not close it)", ok, err)
	}
}

// failingApply is a keystore whose writes fail.
type failingApply struct{ kv.Store }

func (failingApply) Apply([]kv.Op) error { return errors.New("disk full") }

func TestFailedCreationLeavesNoRootFile(t *testing.T) {
	t.Parallel()
	uri, path := localURI(t)
	_, err := keys.Open(t.Context(), failingApply{memKeystore(t)}, quietOptions(uri).WithCreate(true))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Open on a keystore that cannot be written: err %v, want the write error", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root file %s left behind by a failed Open (stat err %v)", path, err)
	}
}
