package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/kv/pgkv"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// serveStore is the storage choice of "featurevault serve": the embedded
// Badger store in --data (the default), or a PostgreSQL-protocol store
// shared by several servers.
type serveStore struct {
	url         string
	keystoreURL string
	memberID    string
	lease       time.Duration
}

func (s *serveStore) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.url, "store", "", "postgres://USER@HOST:PORT/DB URL of a shared store (PostgreSQL, CockroachDB, YugabyteDB) that several servers serve together; default: the embedded store in --data (see docs/deploy.md)")
	f.StringVar(&s.keystoreURL, "keystore-store", "", "URL of the shared keystore, best its own database or schema (?search_path=SCHEMA) on the keystore's shorter backup retention; default: --store")
	f.StringVar(&s.memberID, "member-id", "", "this server's name among the servers of a shared store (default: host name, process id and a random suffix)")
	f.DurationVar(&s.lease, "cluster-lease", 5*time.Second, "membership lease on a shared store: a server that cannot renew it stops serving, and a change waits at most this long for a server that died")
}

// check validates the flags before anything is opened.
func (s *serveStore) check() error {
	if s.url == "" {
		if s.keystoreURL != "" {
			return fmt.Errorf("--keystore-store needs --store: the embedded store keeps its keystore in --data")
		}
		return nil
	}
	for name, u := range map[string]string{"--store": s.url, "--keystore-store": s.keystoreURL} {
		if u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
			return fmt.Errorf("%s %s: give a postgres:// URL", name, pgkv.Redact(u))
		}
	}
	if s.lease < 500*time.Millisecond {
		return fmt.Errorf("--cluster-lease %s: give at least 500ms", s.lease)
	}
	return nil
}

// open opens the backend the flags choose.
func (s *serveStore) open(ctx context.Context, dir string, o store.Options, log *slog.Logger) (*rpc.Backend, error) {
	if s.url == "" {
		return rpc.OpenBackend(ctx, dir, o, log)
	}
	id := s.memberID
	if id == "" {
		host, _ := os.Hostname()
		var r [4]byte
		_, _ = rand.Read(r[:])
		id = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(r[:]))
	}
	sh, err := rpc.OpenSharedStore(ctx, s.url, s.keystoreURL, id)
	if err != nil {
		return nil, err
	}
	sh.Lease = s.lease
	b, err := rpc.OpenSharedBackend(ctx, dir, o, sh, log)
	if err != nil {
		return nil, err
	}
	log.Info("serving a shared store", "store", pgkv.Redact(s.url), "member", id, "lease", s.lease)
	return b, nil
}
