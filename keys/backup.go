package keys

import (
	"io"
	"strings"

	"github.com/featurevault/featurevault/kv"
)

// Backup writes a consistent snapshot of the keystore to w, while the
// keyring stays in use, and returns the since of the next incremental
// backup (see kv.Backuper; since 0 backs up everything).
//
// The snapshot holds the wrapped KEK, the wrapped blind-index, service and
// subject keysets and the plain metadata records: no cleartext key. It is
// useless without the root key, which stays in the KMS and is never part
// of a backup (for the local development KMS, its root file is copied by
// hand). Yet a keystore backup keeps every key it holds alive, erased
// subjects' included, until it is destroyed or the KEK version that wraps
// them is retired: keep keystore backups on a retention shorter than the
// shred horizon (docs/backup.md).
func (k *Keyring) Backup(w io.Writer, since uint64) (uint64, error) {
	if k.closed.Load() {
		return 0, ErrClosed
	}
	return kv.Backup(k.store, w, since)
}

// KMSURI returns the URI of the root key that wraps the KEK: a location,
// never key material. A local:// URI names the development root file.
func (k *Keyring) KMSURI() string { return k.root.uri }

// IsLocalKMS reports whether uri names the built-in local development KMS,
// whose root key is a cleartext file next to the data.
func IsLocalKMS(uri string) bool { return strings.HasPrefix(uri, "local://") }
