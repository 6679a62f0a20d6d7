package keys

import "github.com/featurevault/featurevault/kv"

// ScanKeystore calls fn for every entry of the keystore whose key starts
// with prefix (nil: every entry), in ascending key order, until fn returns
// an error, which it returns. It only reads: it is for consistency checks
// and digests of what a store persists, such as the tests that show a
// refused request changes nothing.
//
// The entries are wrapped keysets (useless without the KEK and the root key)
// and the plain metadata records of layout.go, never cleartext key
// material. Treat them as a keystore backup is treated all the same: never
// log or print a value.
func (k *Keyring) ScanKeystore(prefix []byte, fn func(kv.Entry) error) error {
	if k.closed.Load() {
		return ErrClosed
	}
	return k.store.Scan(prefix, fn)
}
