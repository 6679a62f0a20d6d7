package audit

// Test-only access to the stored encoding, for tamper tests that forge bytes
// the way an attacker with the data directory (but not the MAC key) could.

// RecordKey is the kv key of record seq.
func RecordKey(seq uint64) []byte { return recordKey(seq) }

// HeadKey is the kv key of the head pointer.
var HeadKey = headKey

// EncodeContent returns r's canonical encoding (what the MAC covers).
func EncodeContent(r Record) []byte { return encodeContent(&r) }

// EncodeStored returns the stored form of r with the given hash.
func EncodeStored(r Record, hash []byte) []byte { return encodeStored(encodeContent(&r), hash) }

// DecodeStored parses a stored record.
func DecodeStored(b []byte) (Record, []byte, error) { return decodeStored(b) }

// EncodeHead returns a stored head pointer.
func EncodeHead(c Checkpoint) []byte { return encodeHead(c) }

// CheckpointMessage returns the bytes a checkpoint's signature covers.
func CheckpointMessage(c SignedCheckpoint) []byte { return c.message() }
