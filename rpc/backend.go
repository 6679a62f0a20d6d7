package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tink-crypto/tink-go/v2/jwt"
	"github.com/tink-crypto/tink-go/v2/mac"
	"github.com/tink-crypto/tink-go/v2/signature"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/cluster"
	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/privacy"
	"github.com/featurevault/featurevault/store"
)

// AdminTokenFile is the name of the bootstrap admin token file, created in
// the data directory (mode 0600) on first start.
const AdminTokenFile = "admin.token"

// Backend is everything a server serves: the encrypted store, the access
// policy and the audit log, opened over one data directory.
type Backend struct {
	Store  *store.Store
	Policy *policy.Engine
	Audit  *audit.Log
	// Ledger holds each principal's differential-privacy budget.
	Ledger *privacy.Ledger
	// Checkpoints signs checkpoints of Audit with the Ed25519 keyset
	// CheckpointKeyset (checkpoint_handler.go).
	Checkpoints *audit.Checkpointer
	// AdminTokenPath is set when this start created the bootstrap admin
	// token (first start only).
	AdminTokenPath string
	// Cluster is this server's membership when it shares its store with
	// other servers (OpenSharedBackend); nil on an embedded store.
	Cluster *cluster.Member

	reloadMu    sync.Mutex
	reloadHooks []func() // dropped caches of the servers built on it (backend_shared.go)

	closers []func() error
}

// AuditSyncInterval is how often the audit log is flushed to disk. Appends
// are written at once (they survive a crash of the server process) but
// synced to disk in groups, so that a read does not wait for a disk flush:
// a power failure can lose at most this much of the log's tail, which
// Verify then reports as a truncation against an exported checkpoint.
const AuditSyncInterval = 100 * time.Millisecond

// OpenBackend opens the store in dir with o, then the policy engine and the
// audit log in its data KV (their keys wrapped by the store's KEK), syncs
// every view into the policy, and on first start creates the bootstrap
// admin principal and writes its token to dir/admin.token (mode 0600).
func OpenBackend(ctx context.Context, dir string, o store.Options, log *slog.Logger) (*Backend, error) {
	return openBackend(ctx, dir, o, log, nil)
}

// openBackend is OpenBackend, on the shared engine sh when it is not nil
// (backend_shared.go).
func openBackend(ctx context.Context, dir string, o store.Options, log *slog.Logger, sh *SharedStore) (_ *Backend, err error) {
	if sh != nil {
		o = o.WithKV(sh.Data, sh.Keystore)
		defer func() {
			if err != nil {
				_ = sh.Audit.Close()
			}
		}()
	}
	st, err := store.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = st.Close()
		}
	}()
	kr := st.Keyring()
	jwtKeys, err := kr.NamedKeyset("jwt-signer", jwt.ES256Template())
	if err != nil {
		return nil, err
	}
	pol, err := policy.Open(st.KV(), policy.DefaultOptions().WithJWTKeyset(jwtKeys))
	if err != nil {
		return nil, err
	}
	macKeys, err := kr.NamedKeyset("audit-mac", mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		return nil, err
	}
	m, err := mac.New(macKeys)
	if err != nil {
		return nil, fmt.Errorf("rpc: audit MAC: %w", err)
	}
	b := &Backend{Store: st}
	var auditKV kv.Store
	auditOpts := audit.DefaultOptions()
	if sh == nil {
		// The audit log has its own directory: its retention is the auditors',
		// not the data's, and its flush policy is its own (AuditSyncInterval).
		db, err := kv.OpenBadger(kv.DefaultOptions(filepath.Join(dir, "audit")).WithSyncWrites(false).WithLogger(log).WithMemory(o.MemoryPlan().Audit))
		if err != nil {
			return nil, err
		}
		stopSync := syncEvery(db, AuditSyncInterval, log)
		b.closers = append(b.closers, func() error { stopSync(); return db.Close() })
		auditKV = db
	} else {
		b.closers = append(b.closers, sh.Audit.Close)
		auditKV, auditOpts = sh.Audit, auditOpts.WithShared(true)
	}
	defer func() {
		if err != nil {
			_ = b.closeAll()
		}
	}()
	alog, err := audit.Open(auditKV, m, auditOpts)
	if err != nil {
		return nil, err
	}
	cpKeys, err := kr.NamedKeyset(CheckpointKeyset, signature.ED25519KeyTemplate())
	if err != nil {
		return nil, err
	}
	if b.Checkpoints, err = audit.NewCheckpointer(alog, cpKeys, ""); err != nil {
		return nil, err
	}
	for _, v := range st.Views() {
		if err := pol.SyncView(v.Name, policy.FieldRefs(&v)); err != nil {
			return nil, err
		}
	}
	ledger, err := privacy.NewLedger(st.KV(), privacy.PerPrincipal)
	if err != nil {
		return nil, err
	}
	b.Policy, b.Audit, b.Ledger = pol, alog, ledger
	var token string
	if sh != nil {
		token, err = b.joinCluster(ctx, sh, log)
	} else {
		token, err = pol.EnsureBootstrapAdmin()
	}
	if err != nil {
		return nil, err
	}
	if token != "" {
		b.AdminTokenPath = filepath.Join(dir, AdminTokenFile)
		if err := writeSecretFile(b.AdminTokenPath, token+"\n"); err != nil {
			return nil, err
		}
		log.Info("created the bootstrap admin principal; its token is in the file", "path", b.AdminTokenPath)
	}
	return b, nil
}

// Close closes the audit log and the store (the policy lives in it).
func (b *Backend) Close() error {
	return errors.Join(b.closeAll(), b.Store.Close())
}

func (b *Backend) closeAll() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	b.closers = nil
	return errors.Join(errs...)
}

// syncEvery flushes db every interval until the returned stop is called,
// which flushes once more.
func syncEvery(db *kv.Badger, interval time.Duration, log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				// SyncLogs, not Sync: Badger's Sync holds up every
				// append (so every request) while the disk flushes.
				if err := db.SyncLogs(); err != nil {
					log.Error("audit log sync failed", "error", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if err := db.Sync(); err != nil {
			log.Error("audit log sync failed", "error", err)
		}
	}
}

// writeSecretFile creates path with mode 0600, refusing to overwrite, and
// syncs it and its directory: the principal it names is already on disk,
// so a power failure must not leave the file empty or missing.
func writeSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the bootstrap token path under the operator's data directory
	if err != nil {
		return fmt.Errorf("rpc: write %s: %w", path, err)
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("rpc: write %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path)) // #nosec G304 -- the operator's data directory
	if err != nil {
		return fmt.Errorf("rpc: sync %s: %w", filepath.Dir(path), err)
	}
	return errors.Join(d.Sync(), d.Close())
}
