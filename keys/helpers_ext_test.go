package keys_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// memKeystore returns an in-memory keystore closed at the end of the test.
func memKeystore(t testing.TB) kv.Store {
	t.Helper()
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatalf("open keystore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// diskKeystore opens (or reopens) a keystore in dir; the caller closes it.
func diskKeystore(t testing.TB, dir string) kv.Store {
	t.Helper()
	s, err := kv.OpenBadger(kv.DefaultOptions(dir).WithSyncWrites(false))
	if err != nil {
		t.Fatalf("open keystore %s: %v", dir, err)
	}
	return s
}

// localURI returns a local:// URI of a (not yet created) root file in a
// fresh temporary directory, and the file's path.
func localURI(t testing.TB) (uri, path string) {
	path = filepath.Join(t.TempDir(), "kms", "root.json")
	return localkms.Prefix + path, path
}

// quietOptions returns default options for uri that log nowhere.
func quietOptions(uri string) keys.Options {
	return keys.DefaultOptions().WithKMSURI(uri).WithLogger(slog.New(slog.DiscardHandler))
}

// testOptions returns quiet options with a fresh local root.
func testOptions(t testing.TB) keys.Options {
	uri, _ := localURI(t)
	return quietOptions(uri)
}

// openNew opens a keyring with fresh keys on an in-memory keystore.
func openNew(t testing.TB, o keys.Options) (*keys.Keyring, kv.Store) {
	t.Helper()
	ks := memKeystore(t)
	k, err := keys.Open(context.Background(), ks, o.WithCreate(true))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	return k, ks
}

// snapshot returns every entry of the keystore, to check that a refusal wrote nothing.
func snapshot(t testing.TB, s kv.Store) []kv.Entry {
	t.Helper()
	var all []kv.Entry
	if err := s.Scan(nil, func(e kv.Entry) error { all = append(all, e); return nil }); err != nil {
		t.Fatalf("scan keystore: %v", err)
	}
	return all
}

func sameEntries(a, b []kv.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Key, b[i].Key) || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// countingClient wraps a KMS client and counts every call made to it and to
// the AEADs it returns.
type countingClient struct {
	registry.KMSClient
	getAEAD, encrypt, decrypt atomic.Int64
}

func (c *countingClient) GetAEAD(uri string) (tink.AEAD, error) {
	c.getAEAD.Add(1)
	a, err := c.KMSClient.GetAEAD(uri)
	if err != nil {
		return nil, err
	}
	return countedAEAD{a, c}, nil
}

type countedAEAD struct {
	tink.AEAD
	c *countingClient
}

func (a countedAEAD) Encrypt(p, ad []byte) ([]byte, error) {
	a.c.encrypt.Add(1)
	return a.AEAD.Encrypt(p, ad)
}

func (a countedAEAD) Decrypt(c, ad []byte) ([]byte, error) {
	a.c.decrypt.Add(1)
	return a.AEAD.Decrypt(c, ad)
}
