package store

import "github.com/featurevault/featurevault/kv"

// WithKV makes Open use data and keystore instead of opening Badger
// directories under dir: a shared engine such as PostgreSQL (kv/pgkv) that
// several servers open at once. Open takes ownership of both and closes
// them on Close. dir still holds what is local to a server: the local
// development KMS root (every server of one store must use the same root
// key, so give them a real KMS) and the bootstrap admin token.
//
// The keystore should be its own database or schema, backed up on the
// keystore's shorter retention (docs/shred-horizon.md).
func (o Options) WithKV(data, keystore kv.Store) Options {
	o.sharedData, o.sharedKeys = data, keystore
	return o
}

// Reload re-reads what the store caches from its data KV: the registry of
// entities and views, and whether any restriction exists. A server that
// shares its store with other servers calls it when another one reports a
// change; until then it may not know of a view applied elsewhere.
func (s *Store) Reload() error {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	s.restrictions.Store(0)
	return s.loadRegistry()
}
