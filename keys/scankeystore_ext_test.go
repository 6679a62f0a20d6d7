package keys_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

func TestScanKeystoreSeesWhatIsStoredAndOnlyReads(t *testing.T) {
	t.Parallel()
	k, ks := openNew(t, testOptions(t))
	bi, err := k.BlindIndex("customer", "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ks)
	var got []kv.Entry
	if err := k.ScanKeystore(nil, func(e kv.Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatalf("ScanKeystore: %v", err)
	}
	if !sameEntries(got, want) {
		t.Errorf("ScanKeystore saw %d entries, the keystore holds %d (or they differ)", len(got), len(want))
	}
	var subjects int
	if err := k.ScanKeystore([]byte("s/"), func(e kv.Entry) error {
		if !bytes.HasPrefix(e.Key, []byte("s/")) {
			t.Errorf("ScanKeystore(s/) yielded key %q", e.Key)
		}
		subjects++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if subjects != 1 {
		t.Errorf("ScanKeystore(s/) saw %d subject keys, want 1", subjects)
	}
	stop := errors.New("stop")
	var n int
	if err := k.ScanKeystore(nil, func(kv.Entry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("ScanKeystore with fn failing at once = %v after %d calls; want fn's error after 1", err, n)
	}
	if after := snapshot(t, ks); !sameEntries(after, want) {
		t.Error("ScanKeystore changed the keystore")
	}
	k.Close()
	if err := k.ScanKeystore(nil, func(kv.Entry) error { return nil }); !errors.Is(err, keys.ErrClosed) {
		t.Errorf("ScanKeystore after Close = %v, want ErrClosed", err)
	}
}
