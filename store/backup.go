package store

import (
	"io"

	"github.com/featurevault/featurevault/kv"
)

// Backup writes a consistent snapshot of the data directory's store to w
// while the store stays in use, and returns the since of the next
// incremental backup (see kv.Backuper; since 0 backs up everything).
//
// The snapshot holds what the data store holds: the registry, the rows
// (every value a ciphertext under its subject's key), blind indexes,
// subject records, and the records other packages keep in the data KV
// (policy, token hashes, privacy budgets). It holds no key: it reads only
// with a keystore backup that still holds the subjects' keys, which is why
// an erased subject's rows in old data backups become unreadable once no
// keystore backup holds its key (docs/backup.md).
func (s *Store) Backup(w io.Writer, since uint64) (uint64, error) {
	return kv.Backup(s.data, w, since)
}
