// Package backup writes and restores FeatureVault backups: one artifact per
// part of the store, and a manifest that describes them.
//
// A store is three Badger databases, each a part with its own retention:
//
//	data      registry, ciphertext rows, subject records, policy, budgets
//	keystore  wrapped KEK, blind-index, service and subject keysets
//	audit     the hash-chained audit log
//
// A backup directory holds PART.fvbackup per part (Badger's backup stream,
// as the server's AdminService.Backup sends it) and manifest.json: the
// parts, their Badger versions (since and next_since, for incremental
// backups), sizes and SHA-256 digests, the time of creation, and the URI of
// the root key when it is in a real KMS. Every file is mode 0600 and is
// written to a temporary name, synced and renamed, so a backup directory
// either holds a manifest and every artifact it names, or no manifest.
//
// Restore is offline: it verifies every artifact's digest before it loads
// anything, refuses a target part directory that is not empty, and loads a
// full backup and then its incremental backups, in order.
//
// Security: a backup holds no cleartext key. The keystore artifact holds
// wrapped keys, useless without the root key; the root key stays in the
// KMS, and the local development root file (DIR/kms/root.json) is never
// part of a backup: copy it by hand. Yet a keystore backup keeps every key
// it holds alive, erased subjects' included: keep keystore backups for less
// than the shred horizon (docs/backup.md, docs/shred-horizon.md). Data
// backups may be kept longer: an erased subject's rows in them stay
// ciphertext that no surviving key opens.
package backup
