package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/featurevault/featurevault/cluster"
	"github.com/featurevault/featurevault/kv/pgkv"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/store"
)

// SharedStore is a PostgreSQL-protocol store that several servers share:
// the data table (rows, registry, principals, policies, the budget ledger),
// the keystore table (on its own URL or schema, for its shorter backup
// retention) and the audit table. OpenSharedBackend takes ownership of all
// three.
type SharedStore struct {
	Data, Keystore, Audit *pgkv.Store
	// MemberID names this server among the servers of the store (unique;
	// e.g. host:port).
	MemberID string
	// Lease is the membership lease (0: cluster.DefaultOptions').
	Lease time.Duration
}

// Shared table names, one store each.
const (
	SharedDataTable     = "fv_data"
	SharedKeystoreTable = "fv_keystore"
	SharedAuditTable    = "fv_audit"
)

// OpenSharedStore connects to the data URL and the keystore URL (the same
// URL is allowed: the keystore is then its own table in the same database)
// and opens the three tables.
func OpenSharedStore(ctx context.Context, dataURL, keystoreURL, memberID string) (_ *SharedStore, err error) {
	if keystoreURL == "" {
		keystoreURL = dataURL
	}
	sh := &SharedStore{MemberID: memberID}
	defer func() {
		if err != nil {
			sh.close()
		}
	}()
	if sh.Data, err = pgkv.Open(ctx, dataURL, pgkv.DefaultOptions(SharedDataTable)); err != nil {
		return nil, err
	}
	if sh.Keystore, err = pgkv.Open(ctx, keystoreURL, pgkv.DefaultOptions(SharedKeystoreTable)); err != nil {
		return nil, err
	}
	// The audit log's commits are flushed by the database's WAL writer
	// rather than each on its own, as on Badger (AuditSyncInterval).
	if sh.Audit, err = pgkv.New(ctx, sh.Data.Pool(), pgkv.DefaultOptions(SharedAuditTable).WithSyncCommit(false)); err != nil {
		return nil, err
	}
	return sh, nil
}

func (sh *SharedStore) close() {
	for _, s := range []*pgkv.Store{sh.Audit, sh.Keystore, sh.Data} {
		if s != nil {
			_ = s.Close()
		}
	}
}

// OpenSharedBackend is OpenBackend on a shared store: dir holds only what
// is local to this server (the local development KMS root, which every
// server of the store must share, and the bootstrap admin token). The
// server joins the store's membership (package cluster): see
// Backend.Cluster.
func OpenSharedBackend(ctx context.Context, dir string, o store.Options, sh *SharedStore, log *slog.Logger) (*Backend, error) {
	if sh == nil || sh.Data == nil || sh.Keystore == nil || sh.Audit == nil {
		return nil, errors.New("rpc: incomplete shared store; open it with OpenSharedStore")
	}
	return openBackend(ctx, dir, o, log, sh)
}

// joinCluster joins the store's membership, then creates the bootstrap
// admin if no server has (under a cluster lock, so two servers starting
// at once create one), returning its token when this server created it.
func (b *Backend) joinCluster(ctx context.Context, sh *SharedStore, log *slog.Logger) (string, error) {
	b.Store.Keyring().SetShared(true)
	co := cluster.DefaultOptions(sh.MemberID).WithLogger(log).WithReload(b.reloadShared)
	if sh.Lease > 0 {
		co = co.WithLease(sh.Lease).WithPoll(sh.Lease / 5)
	}
	m, err := cluster.Join(ctx, sh.Data.Pool(), co)
	if err != nil {
		return "", err
	}
	b.Cluster = m
	b.closers = append(b.closers, m.Close)
	var release func()
	for {
		release, err = m.Lock(ctx, "bootstrap")
		if !errors.Is(err, cluster.ErrBusy) {
			break
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		return "", err
	}
	defer release()
	if err := b.Policy.Reload(); err != nil {
		return "", err
	}
	token, err := b.Policy.EnsureBootstrapAdmin()
	if err != nil || token == "" {
		return token, err
	}
	return token, m.Invalidate(ctx)
}

// reloadShared drops every cache of this server and re-reads the shared
// state: the registry, principals, tokens and rules (and each view's
// fields in the policy), the KEK, and the subject keys. The cluster calls
// it when another server changed something.
func (b *Backend) reloadShared(context.Context) error {
	if err := b.Store.Reload(); err != nil {
		return err
	}
	if err := b.Policy.Reload(); err != nil {
		return err
	}
	for _, v := range b.Store.Views() {
		if err := b.Policy.SyncView(v.Name, policy.FieldRefs(&v)); err != nil {
			return err
		}
	}
	kr := b.Store.Keyring()
	if _, err := kr.ReloadKEK(); err != nil {
		return err
	}
	kr.ForgetCached()
	b.reloadMu.Lock()
	hooks := b.reloadHooks
	b.reloadMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
	return nil
}

// onReload registers fn to run on every shared reload (a cache a Server
// keeps over the backend).
func (b *Backend) onReload(fn func()) {
	b.reloadMu.Lock()
	b.reloadHooks = append(b.reloadHooks, fn)
	b.reloadMu.Unlock()
}

// sharedCheck returns Unavailable while this server's membership lease may
// have lapsed (nil on an embedded store).
func (b *Backend) sharedCheck() error {
	if b == nil || b.Cluster == nil {
		return nil
	}
	return b.Cluster.Check()
}

// invalidateShared makes a committed change in force on every server of a
// shared store before it is acknowledged (nothing on an embedded store).
func (b *Backend) invalidateShared(ctx context.Context) error {
	if b == nil || b.Cluster == nil {
		return nil
	}
	if err := b.Cluster.Invalidate(ctx); err != nil {
		return fmt.Errorf("rpc: confirm the change with the other servers: %w", err)
	}
	return nil
}

// sharedKEKStep runs one step of the scheduled KEK rotation; on a shared
// store only on the server that holds the cluster's key lock (the others
// skip the step), starting from the stored KEK, and confirmed with every
// server afterwards.
func (b *Backend) sharedKEKStep(ctx context.Context, period time.Duration, log *slog.Logger, starting bool) {
	if b.Cluster == nil {
		b.kekRotationStep(ctx, period, log, starting)
		return
	}
	release, err := b.Cluster.Lock(ctx, "keys")
	if err != nil {
		if !errors.Is(err, cluster.ErrBusy) {
			log.Error("scheduled KEK rotation: cluster lock", "error", err)
		}
		return
	}
	defer release()
	if _, err := b.Store.Keyring().ReloadKEK(); err != nil {
		log.Error("scheduled KEK rotation: reload the KEK", "error", err)
		return
	}
	b.kekRotationStep(ctx, period, log, starting)
	if err := b.invalidateShared(ctx); err != nil {
		log.Error("scheduled KEK rotation: confirm with the other servers", "error", err)
	}
}
