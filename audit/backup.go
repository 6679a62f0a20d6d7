package audit

import (
	"io"

	"github.com/featurevault/featurevault/kv"
)

// Backup writes a consistent snapshot of the log's store to w while the log
// stays in use (appends wait for nothing), and returns the since of the
// next incremental backup (see kv.Backuper; since 0 backs up everything).
//
// A snapshot is a prefix of the chain: records are committed with the head
// pointer in one atomic write, so a restored log verifies, ending at the
// head the snapshot saw. Its MAC key is in the keystore, so verifying a
// restored log needs a keystore backup too. Records name subjects by blind
// index only; the snapshot holds no value, raw key or token.
func (l *Log) Backup(w io.Writer, since uint64) (uint64, error) {
	return kv.Backup(l.store, w, since)
}
