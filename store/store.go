package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// Store is an encrypted feature store: a registry of entities and views, and
// rows whose every value is encrypted on its own under its subject's key.
//
// The data KV holds only registry metadata, blind indexes and ciphertext;
// keys live in the keyring's own keystore. A Store is safe for concurrent use.
type Store struct {
	data    kv.Store
	keyring *keys.Keyring
	opts    Options
	regMu   sync.Mutex               // serialises applies
	reg     atomic.Pointer[registry] // current snapshot; never mutated after publish

	subjects     subjectLocks // writes against erasure and subject-key rotation (subjectlock.go)
	restrictions atomic.Int32 // whether any restriction exists: 0 unknown, 1 none, 2 some (restrict.go)

	owned []func() error // closers of what Open opened, in order
}

// Options configures Open and New. Start from DefaultOptions.
type Options struct {
	dir    string
	kmsURI string
	logger *slog.Logger
	syncs  bool
	now    func() time.Time
	keys   keys.Options
	memory *MemoryPlan // nil: DefaultMemoryBudget's (memory.go)

	maxValueBytes int  // 0: MaxValueBytes (limits.go)
	perCommitSync bool // WithGroupCommit(false)

	sharedData, sharedKeys kv.Store // WithKV (shared.go): instead of Badger under dir

	wrap func(kv.Store) kv.Store // see WithDataWrapper (tier.go)
}

// DefaultOptions returns options for a store in dir, laid out as:
//
//	dir/data/       Badger: registry, rows (ciphertext), subject records
//	dir/keystore/   Badger: wrapped KEK, blind-index and subject keysets
//	dir/kms/root.json  the local KMS root key (cleartext; development only)
//
// The keystore is its own directory so that it can be backed up on a
// shorter retention than the data: see the shred horizon in the README.
func DefaultOptions(dir string) Options {
	return Options{dir: dir, syncs: true, now: time.Now, keys: keys.DefaultOptions()}
}

// WithKMSURI sets the URI of the root key that wraps the KEK. The default is
// the local file KMS at dir/kms/root.json, created on first start.
func (o Options) WithKMSURI(uri string) Options { o.kmsURI = uri; return o }

// WithLogger sets the logger (default: slog.Default()).
func (o Options) WithLogger(l *slog.Logger) Options { o.logger = l; return o }

// WithSyncWrites sets whether a write returns only once it is on disk
// (default true).
//
// The durability model, with it on: every call that writes (Write, Ingest,
// Erase, registry applies, subject-key rotation, and what other packages
// keep in KV()) returns only once its write is fsynced, so what it
// acknowledged survives a crash of the process and a power failure. The
// data directory uses group commit: a write is committed (readers see it
// at once), then its writer waits for a sync round that started after it;
// concurrent writers share one round, and readers never wait for a disk
// flush. A reader may therefore see a write a moment before it is on disk:
// a power failure then can undo a row someone read but whose writer was
// never told it succeeded. The keystore syncs each commit before it
// becomes visible (kv.Options.WithGroupCommit(false)), so a subject key is
// on disk before any writer can encrypt a row under it; only a keystore
// read that misses the key cache waits for a keystore fsync. Without it,
// writes survive a crash of the process but not of the machine.
func (o Options) WithSyncWrites(b bool) Options { o.syncs = b; return o }

// WithGroupCommit sets whether synced writes to the data directory use
// group commit (default true). false makes every commit wait for its own
// sync before it becomes visible, as the keystore does, which makes every
// concurrent read wait for it too: kept to measure the difference.
func (o Options) WithGroupCommit(b bool) Options { o.perCommitSync = !b; return o }

// WithClock sets the clock used for default event times, created times and
// TTL checks (tests).
func (o Options) WithClock(now func() time.Time) Options { o.now = now; return o }

// WithKeys sets the keyring options (cache size and TTL, extra KMS clients).
// The KMS URI and the create permission are set by Open.
func (o Options) WithKeys(k keys.Options) Options { o.keys = k; return o }

func (o Options) log() *slog.Logger {
	if o.logger != nil {
		return o.logger
	}
	return slog.Default()
}

// LocalKMSURI returns the URI of the default local root key for dir.
func LocalKMSURI(dir string) (string, error) {
	abs, err := filepath.Abs(filepath.Join(dir, "kms", "root.json"))
	if err != nil {
		return "", fmt.Errorf("store: resolve %s: %w", dir, err)
	}
	return "local://" + abs, nil
}

// Open opens, or on first start creates, the store in the options' directory.
//
// It never creates a fresh key hierarchy over existing data: if the data
// directory holds rows but the keystore holds no KEK, Open fails and says so.
func Open(ctx context.Context, o Options) (_ *Store, err error) {
	if o.dir == "" {
		return nil, errors.New("store: no directory given; pass one to DefaultOptions")
	}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	data, keystore := o.sharedData, o.sharedKeys
	if data == nil || keystore == nil {
		mem := o.MemoryPlan()
		if data, err = kv.OpenBadger(kv.DefaultOptions(filepath.Join(o.dir, "data")).WithSyncWrites(o.syncs).WithGroupCommit(!o.perCommitSync).WithLogger(o.log()).WithMemory(mem.Data)); err != nil {
			return nil, err
		}
		closers = append(closers, data.Close)
		if keystore, err = kv.OpenBadger(kv.DefaultOptions(filepath.Join(o.dir, "keystore")).WithSyncWrites(true).WithGroupCommit(false).WithLogger(o.log()).WithMemory(mem.Keystore)); err != nil {
			return nil, err
		}
		closers = append(closers, keystore.Close)
	} else {
		closers = append(closers, data.Close, keystore.Close)
	}
	dataKV := data
	if o.wrap != nil {
		dataKV = o.wrap(data)
	}
	uri := o.kmsURI
	if uri == "" {
		if uri, err = LocalKMSURI(o.dir); err != nil {
			return nil, err
		}
	}
	hasData, err := kv.HasPrefix(data, []byte("m/"))
	if err != nil {
		return nil, err
	}
	kr, err := keys.Open(ctx, keystore, o.keys.WithKMSURI(uri).WithCreate(!hasData).WithLogger(o.log()))
	if err != nil {
		return nil, err
	}
	closers = append(closers, kr.Close)
	s, err := New(ctx, dataKV, kr, o)
	if err != nil {
		return nil, err
	}
	s.owned = closers
	return s, nil
}

// New returns a store over an opened data KV and keyring. The caller keeps
// ownership of both: Close does not close them.
func New(ctx context.Context, data kv.Store, keyring *keys.Keyring, o Options) (*Store, error) {
	if o.now == nil {
		o.now = time.Now
	}
	if err := o.checkLimits(); err != nil {
		return nil, err
	}
	s := &Store{data: data, keyring: keyring, opts: o}
	if err := s.loadRegistry(); err != nil {
		return nil, err
	}
	return s, ctx.Err()
}

// KV returns the data KV. Other domain packages keep their records in it
// under their own prefixes (policy p/, audit a/, privacy b/), so that one
// backup of the data directory holds everything but keys. Never write under
// the store's own prefixes (m/, r, s, x, o).
func (s *Store) KV() kv.Store { return s.data }

// Keyring returns the store's key hierarchy.
func (s *Store) Keyring() *keys.Keyring { return s.keyring }

// Close closes what Open opened, in reverse order.
func (s *Store) Close() error {
	var errs []error
	for i := len(s.owned) - 1; i >= 0; i-- {
		errs = append(errs, s.owned[i]())
	}
	s.owned = nil
	return errors.Join(errs...)
}
