package audit

import (
	"bytes"
	"encoding/binary"
)

// The log's key space, under the data store's "a/" prefix (which no other
// package uses):
//
//	"a/" + be64(seq)   one record: canonical encoding || lp(Hash)
//	"a/head"           the head pointer: be64(seq) || Hash of record seq
//
// Big-endian sequence numbers keep records in order under a prefix scan.
// Record keys are 10 bytes and the head key 6, so they never collide; the
// head sorts after every record below seq 0x6865616400000000, so one scan
// of "a/" sees the records and then the head, in one snapshot.
var (
	prefix  = []byte("a/")
	headKey = []byte("a/head")
)

const recordKeyLen = 2 + 8

func recordKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(prefix), seq)
}

func parseRecordKey(k []byte) (uint64, bool) {
	if len(k) != recordKeyLen || !bytes.HasPrefix(k, prefix) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), true
}

func encodeHead(c Checkpoint) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(c.Hash)), c.Seq)
	return append(b, c.Hash...)
}

func decodeHead(b []byte) (Checkpoint, bool) {
	if len(b) <= 8 {
		return Checkpoint{}, false
	}
	c := Checkpoint{Seq: binary.BigEndian.Uint64(b), Hash: bytes.Clone(b[8:])}
	return c, c.Seq != 0
}
