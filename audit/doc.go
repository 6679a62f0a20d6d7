// Package audit keeps FeatureVault's audit log: an append-only record of
// every data access and admin action, hash-chained and keyed so that an edit,
// deletion, insertion or reordering is detected and located.
//
// # What a record holds
//
// A Record says who (principal), did what (action, procedure), to which view
// and columns (allowed and denied), for how many entities, under which
// purpose and environment, which policy rule decided, what differential
// privacy budget it cost, and how it ended. It never holds a feature value, a
// raw entity key, a token or key material: subjects are named by blind index
// only, and only where an operation targets them individually (an erasure
// receipt). The contract is spelled out on Record; records are MACed, not
// encrypted, so anyone who can read the data directory can read them.
//
// # What is chained
//
// Each record is encoded canonically (a fixed field order, every field
// length-prefixed, after the domain string "featurevault/audit/v1"; see
// canonical.go) with the previous record's Hash first and its own sequence
// number and time inside. Its Hash is a Tink MAC over that encoding:
//
//	Hash(n) = MAC_k( "featurevault/audit/v1" || lp(Hash(n-1)) || Seq n || Time || ... )
//
// so each Hash covers the whole history before it. The stored value is the
// canonical encoding followed by the Hash, under "a/" + be64(seq); the head
// pointer "a/head" holds the last sequence number and Hash, and is written in
// the same atomic batch as the record.
//
// # What the MAC adds
//
// A plain SHA-256 chain can be recomputed by anyone: an attacker with the
// data directory edits a record and rehashes everything after it, and the
// forged chain verifies. With a MAC, making a valid Hash needs the key k,
// which lives in the keystore wrapped by the KEK (keys.Keyring.NamedKeyset
// "audit-mac"), never in the data directory. The log keeps the MAC chain
// only: a second, plain SHA-256 chain would detect nothing the MAC chain
// misses, since whoever can rewrite records can recompute it. Verifying needs
// the key too; to let a party without it check the log, a Checkpointer signs
// checkpoints: a keyless SHA-256 chain over the stored records, up to a
// sequence number, signed with an Ed25519 key whose public keyset the
// auditor holds (checkpoint.go). VerifyExport checks an export with that
// public keyset alone (offline.go; docs/audit-verification.md).
//
// Records that name how their caller authenticated (Record.Auth) are
// encoded under "featurevault/audit/v2": the version 1 encoding with that
// domain, followed by lp(Auth). Records without it stay version 1, so logs
// written before it verify unchanged.
//
// The MAC keyset may be rotated by adding a new primary key: Tink's MAC
// verifies a tag with the key named by its prefix, so records MACed by
// earlier keys keep verifying as long as those keys stay in the keyset.
//
// # What Verify detects, and what it cannot
//
// Verify walks every record once and reports, by sequence number (see Kind):
// an edited or forged record (hash-mismatch), deleted records (gap), records
// moved or swapped between slots (seq-mismatch, prev-mismatch), an inserted
// record (hash-mismatch where it stands, prev-mismatch after it), a cut tail
// (truncated: the head names a record past the end), a rewound or edited head
// (beyond-head, head-mismatch), and unreadable bytes (malformed).
//
// It cannot detect, from the data directory alone, a log rolled back as a
// whole: deleting the last records and setting the head to an earlier
// (seq, Hash) pair, or deleting every record and the head, leaves a shorter
// log that is internally consistent. The defence is to export Head regularly
// (every few minutes, or after each batch of admin actions) to a place the
// server's operators cannot rewrite (an append-only bucket, a ticket, a
// signed email), and pass those checkpoints to Verify: a log that no longer
// contains a checkpoint's record with the same Hash is reported as truncated
// or checkpoint-mismatch. Records appended after the last exported checkpoint
// can be lost without trace; the export interval bounds that window. Nor can
// Verify tell which of two conflicting histories is true if the MAC key
// itself leaks: protect the keystore accordingly.
//
// # Writing
//
// One server owns a log for writing: appends are serialised in memory (and
// concurrent ones committed together in one atomic batch), and the head is
// cached between them. Append fails closed: if the record cannot be written
// it returns an error and the caller fails the request it was auditing.
package audit
