// Package keys holds FeatureVault's key hierarchy: the root key in a KMS, the
// KEK, one key per data subject, and the blind-index key that names subjects
// in storage without revealing their raw entity keys.
//
// # The hierarchy
//
//	root key (KMS: local:// file by default; hcvault://, aws-kms://, gcp-kms://)
//	  │  wraps, AD "featurevault/kek/v1"
//	  └─ KEK keyset (AES256-GCM, Tink prefix)                          keystore m/kek
//	       │  wraps, AD "featurevault/blind-index/v1"
//	       ├─ blind-index keyset (HMAC-SHA256 PRF)                     keystore m/prf
//	       │    BlindIndex = PRF(lp(entity) || raw key)[:16]
//	       │  wraps, AD "featurevault/subject/v1" || lp(entity) || bi
//	       └─ subject keyset, one per (entity, bi) (AES256-GCM, no prefix)
//	            │                                          keystore s/ || lp(entity) || bi
//	            └─ encrypts each field value on its own (the store binds
//	               view, field, subject, event time and schema as AD)
//
// lp(x) is x prefixed by its length as a uvarint, so every encoding above is
// unambiguous. Each associated data names what the ciphertext is and whose it
// is: a wrapped subject keyset copied into another subject's slot does not
// unwrap (ErrSubjectUnwrap), and a KEK from another deployment does not
// unwrap the blind-index key.
//
// # Where keys live and when the KMS is called
//
// The keystore is a kv.Store of its own (its own Badger directory), holding
// only wrapped keysets, so that it can be backed up on a shorter retention
// than the data. Open calls the KMS once (GetAEAD, then one decrypt of the KEK)
// and keeps the unwrapped KEK and blind-index primitives in memory. Subject
// keys are unwrapped by the KEK on first use and cached (bounded LRU with
// TTL) as Tink key objects, each use building its AEAD primitive from the
// key (see cachedKey); no KMS call is ever made per value or per subject.
//
// # Cleartext key material
//
// Only package keys/localkms reads or writes cleartext key material (the local
// root keyset file). This package reads and writes keysets only encrypted,
// through keyset.Handle.WriteWithAssociatedData and keyset.ReadWithAssociatedData.
// No error or log line of either package contains key material or a raw
// entity key; entity names, blind indexes, KMS URIs and paths may appear.
//
// # Rotation
//
// Every level rotates without re-encrypting a single value:
//
//   - RotateKEK adds a KEK version and makes it primary; Rewrap re-wraps every
//     key under it (resumable: a cursor is committed with each batch);
//     RetireKEK destroys an old version once nothing is wrapped by it, and
//     refuses with ErrVersionInUse, naming how many keys remain, before that.
//     Status counts the keys each version wraps by reading the Tink prefix of
//     each wrapped key (0x01 || key ID), without decrypting anything.
//   - RotateRoot re-wraps the KEK under a new root version (for local://, a new
//     version of the root file; older ones destroyed on request).
//   - BeginSubjectRotation and FinishSubjectRotation replace one subject's key;
//     the store re-encrypts the subject's values in between.
//
// # Crypto-shredding and the shred horizon
//
// ForgetSubject (and ForgetSubjects, for many) deletes a subject's wrapped key
// and evicts it from the cache: its values, wherever they are copied, no
// longer decrypt through this Keyring. Older copies of the keystore (backups,
// Badger's value log until compaction) still hold the wrapped key, and an
// older copy of the KEK keyset wrapped by the root. RetireKEK closes both
// doors: the version that wrapped the key leaves the live KEK, and the KEK is
// re-wrapped under a new root version while the older root versions are
// destroyed (local://) or must be disabled in the KMS (external). From then
// on no copy anywhere decrypts a subject erased before the KEK rotation: that
// is the shred horizon, bounded by the rotation and retire schedule (see
// docs/shred-horizon.md).
package keys
