package keys_test

import (
	"context"
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
