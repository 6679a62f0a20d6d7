package kv

import (
	"errors"
	"io"
)

// ErrNoBackup is returned by Backup and Load for a store that cannot make
// or load backups itself; back up such an engine with its own tools.
var ErrNoBackup = errors.New("kv: this store cannot make or load backups; back up its engine with the engine's own tools")

// Backuper is a Store that can write a consistent snapshot of itself to a
// stream and load one back. Badger implements it.
//
// A backup holds exactly the bytes the store holds: for the data store,
// ciphertext, blind indexes and registry metadata; for the keystore,
// wrapped keysets. It is as sensitive as the directory it came from and
// must be kept, and expired, as such.
type Backuper interface {
	// Backup writes every entry written after the backup that returned
	// since (0: every entry) as of one consistent snapshot, while the store
	// stays in use, and returns the since to pass for the next incremental
	// backup.
	// Deletions after since are written as deletion markers, so an
	// incremental backup loaded on top of the full one removes what was
	// deleted in between.
	Backup(w io.Writer, since uint64) (next uint64, err error)
	// Load writes the entries of a backup stream into the store, which must
	// not be in use by anything else meanwhile. Load a full backup into an
	// empty store, then its incremental backups in the order they were made.
	Load(r io.Reader) error
}

// Backup writes a backup of s to w as Backuper.Backup does, or returns
// ErrNoBackup when s cannot make one.
func Backup(s Store, w io.Writer, since uint64) (uint64, error) {
	b, ok := s.(Backuper)
	if !ok {
		return 0, ErrNoBackup
	}
	return b.Backup(w, since)
}

// loadPending bounds how many batches Load has in flight at once.
const loadPending = 16

// Backup implements Backuper with Badger's backup stream: a snapshot at one
// read timestamp, in Badger's length-prefixed protobuf format, which Load
// (Badger's DB.Load) reads back. since and the returned next are Badger
// commit versions: the backup holds the entries of a version above since,
// and next is the highest version it holds (since itself when it holds
// none). Badger's iterator skips versions up to and including its SinceTs,
// whatever DB.Backup's comment says, so next is not incremented.
func (b *Badger) Backup(w io.Writer, since uint64) (uint64, error) {
	// Badger's DB.Backup streams with several producers, each in its own
	// read transaction, so a backup taken under writes could hold half of
	// a batch. One producer reads everything in one transaction: one
	// snapshot.
	stream := b.db.NewStream()
	stream.LogPrefix = "kv.Backup"
	stream.SinceTs = since
	stream.NumGo = 1
	maxVersion, err := stream.Backup(w, since)
	if err != nil {
		return 0, mapErr(err)
	}
	return max(maxVersion, since), nil
}

// Load implements Backuper. It keeps each entry's version, so that
// incremental backups loaded later in order take precedence.
func (b *Badger) Load(r io.Reader) error {
	if err := b.db.Load(r, loadPending); err != nil {
		return mapErr(err)
	}
	return b.durable()
}
