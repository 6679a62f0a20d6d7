package keys_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/featurevault/featurevault/kv"
)

// Example opens a keyring on an in-memory keystore with a local root key,
// names a subject by its blind index, and encrypts one value under the
// subject's key, bound to where the value belongs.
func Example() {
	dir, err := os.MkdirTemp("", "featurevault-keys")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	keystore, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		log.Fatal(err)
	}
	defer keystore.Close()

	o := keys.DefaultOptions().
		WithKMSURI(localkms.Prefix + filepath.Join(dir, "root.json")).
		WithCreate(true). // a fresh deployment: no data exists yet
		WithLogger(slog.New(slog.DiscardHandler))
	k, err := keys.Open(context.Background(), keystore, o)
	if err != nil {
		log.Fatal(err)
	}
	defer k.Close()

	// The raw entity key "c-42" is never stored; its blind index is.
	bi, err := k.BlindIndex("customer", "c-42")
	if err != nil {
		log.Fatal(err)
	}
	a, created, err := k.SubjectAEAD("customer", bi, true)
	if err != nil {
		log.Fatal(err)
	}
	ad := []byte("customer_profile|age|" + bi.String()) // the store's canonical AAD goes here
	ct, err := a.Encrypt([]byte("41"), ad)
	if err != nil {
		log.Fatal(err)
	}
	pt, err := a.Decrypt(ct, ad)
	if err != nil {
		log.Fatal(err)
	}
	_, err = a.Decrypt(ct, []byte("customer_profile|income|"+bi.String()))

	fmt.Println("created:", created)
	fmt.Println("blind index bytes:", len(bi))
	fmt.Println("ciphertext overhead:", len(ct)-len(pt))
	fmt.Println("decrypted:", string(pt))
	fmt.Println("moved to another field decrypts:", err == nil)
	// Output:
	// created: true
	// blind index bytes: 16
	// ciphertext overhead: 28
	// decrypted: 41
	// moved to another field decrypts: false
}

// ExampleKeyring_RotateKEK rotates the KEK, re-wraps every subject key under
// the new version and retires the old one: the full cycle that bounds the
// shred horizon. Subject keys themselves do not change.
func ExampleKeyring_RotateKEK() {
	dir, err := os.MkdirTemp("", "featurevault-rotate")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	keystore, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		log.Fatal(err)
	}
	defer keystore.Close()
	ctx := context.Background()
	k, err := keys.Open(ctx, keystore, keys.DefaultOptions().
		WithKMSURI(localkms.Prefix+filepath.Join(dir, "root.json")).
		WithCreate(true).
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer k.Close()
	for _, key := range []string{"c-1", "c-2", "c-3"} {
		bi, _ := k.BlindIndex("customer", key)
		if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
			log.Fatal(err)
		}
	}
	before, _ := k.Status(ctx)
	old := before.Versions[0].ID

	if _, err := k.RotateKEK(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := k.RetireKEK(ctx, old); err != nil {
		fmt.Println("retire before rewrap:", errors.Is(err, keys.ErrVersionInUse))
	}
	p, err := k.Rewrap(ctx, keys.RewrapOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("re-wrapped:", p.Done) // 3 subject keys and the blind-index key
	r, err := k.RetireKEK(ctx, old)
	if err != nil {
		log.Fatal(err)
	}
	after, _ := k.Status(ctx)
	fmt.Println("versions:", len(after.Versions), "retired:", len(after.Retired), "old root versions destroyed:", r.Root.Destroyed)
	// Output:
	// retire before rewrap: true
	// re-wrapped: 4
	// versions: 1 retired: 1 old root versions destroyed: 1
}
