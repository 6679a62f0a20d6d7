// Package storestate takes snapshots of everything a FeatureVault store
// persists, so that a test can show that a request changed nothing: take
// one before the request, one after, and Diff them.
//
// A snapshot covers the store's two key-value stores: the data KV
// (registry, ciphertext rows, subject records, suppressions and
// restrictions, and the records other packages keep there: the policy's
// principals, token hashes and rules, and the privacy-budget ledger) and the
// keystore (wrapped KEK, blind-index, service and subject keysets, and their
// metadata). It does not cover the audit log, which lives in its own KV and
// is meant to grow: a refused request is audited too.
//
// A snapshot holds, per key, a SHA-256 digest of the value, never the value;
// Diff names changed keys by their printable prefix and length only (keys
// hold names and blind indexes, never a raw entity key or a value, but a
// test's output is no place for binary either). It is for tests: it reads
// the whole store.
package storestate

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"

	"github.com/featurevault/featurevault/kv"
	"github.com/featurevault/featurevault/store"
)

// Snapshot is the state of a store at one moment: each persisted key, by
// the KV it lives in, with a digest of its value.
type Snapshot struct {
	entries map[string][sha256.Size]byte // part + "\x00" + key
}

// Parts of a snapshot, as Diff names them.
const (
	PartData     = "data"
	PartKeystore = "keystore"
)

// Take reads every entry of st's data KV and keystore.
func Take(st *store.Store) (Snapshot, error) {
	s := Snapshot{entries: map[string][sha256.Size]byte{}}
	add := func(part string) func(kv.Entry) error {
		return func(e kv.Entry) error {
			s.entries[part+"\x00"+string(e.Key)] = sha256.Sum256(e.Value)
			return nil
		}
	}
	if err := st.KV().Scan(nil, add(PartData)); err != nil {
		return Snapshot{}, fmt.Errorf("storestate: scan the data KV: %w", err)
	}
	if err := st.Keyring().ScanKeystore(nil, add(PartKeystore)); err != nil {
		return Snapshot{}, fmt.Errorf("storestate: scan the keystore: %w", err)
	}
	return s, nil
}

// Len is the number of keys in the snapshot.
func (s Snapshot) Len() int { return len(s.entries) }

// Diff lists what changed from s to after, one line per key, sorted:
// "data: added m/view/profile (15 bytes)", "keystore: changed m/kek-meta
// ...", "data: removed ...". It is empty when nothing changed.
func (s Snapshot) Diff(after Snapshot) []string {
	var out []string
	for k, v := range s.entries {
		w, ok := after.entries[k]
		switch {
		case !ok:
			out = append(out, describe("removed", k))
		case w != v:
			out = append(out, describe("changed", k))
		}
	}
	for k := range after.entries {
		if _, ok := s.entries[k]; !ok {
			out = append(out, describe("added", k))
		}
	}
	sort.Strings(out)
	return out
}

// describe names a key by its part, its printable prefix and its length.
func describe(what, k string) string {
	part, key, _ := strings.Cut(k, "\x00")
	prefix := key
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			prefix = key[:i] + "…"
			break
		}
	}
	return fmt.Sprintf("%s: %s %s (%d bytes)", part, what, prefix, len(key))
}
