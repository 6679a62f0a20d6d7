package store

import (
	"encoding/binary"

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/featurevault/featurevault/internal/fanout"
	"github.com/featurevault/featurevault/keys"
)

// rawRows are encrypted rows copied out of the KV for one batch, before
// decryption: the copy lets the read transaction end before the CPU-bound
// work starts. Values share one arena that is reused from batch to batch.
type rawRows struct {
	hint    int // expected rows per batch, to size the arena once
	arena   []byte
	spans   [][2]int // value of row r: arena[spans[r][0]:spans[r][1]]
	bis     []keys.BlindIndex
	events  []int64
	created []int64
}

func (r *rawRows) reset() {
	r.arena = r.arena[:0]
	r.spans = r.spans[:0]
	r.bis = r.bis[:0]
	r.events = r.events[:0]
	r.created = r.created[:0]
}

func (r *rawRows) len() int { return len(r.spans) }

func (r *rawRows) add(bi keys.BlindIndex, eventNanos, createdNanos int64, value []byte) {
	if cap(r.arena) == 0 && r.hint > 0 {
		// Size the arena for a batch of rows like this one, plus a margin,
		// so it is allocated once rather than grown by doubling.
		r.arena = make([]byte, 0, r.hint*(len(value)+len(value)/4+64))
		r.spans = make([][2]int, 0, r.hint)
	}
	start := len(r.arena)
	r.arena = append(r.arena, value...)
	r.spans = append(r.spans, [2]int{start, len(r.arena)})
	r.bis = append(r.bis, bi)
	r.events = append(r.events, eventNanos)
	r.created = append(r.created, createdNanos)
}

func (r *rawRows) value(i int) []byte { s := r.spans[i]; return r.arena[s[0]:s[1]:s[1]] }

// rowCreated reads the created time from a row value's header without
// decoding its slots.
func rowCreated(b []byte) (int64, bool) {
	if len(b) == 0 || b[0] != rowFormat {
		return 0, false
	}
	_, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return 0, false
	}
	created, m := binary.Varint(b[1+n:])
	return created, m > 0
}

// emptyPlain stands for a present value whose plaintext is empty (an empty
// string, bytes or list): a nil cell would read as NULL.
var emptyPlain = []byte{}

// decryptJob decrypts raw rows into batch cells: raw row r fills the cells
// of batch row dst[r] (none when dst[r] < 0) with the fields at positions
// pos.
type decryptJob struct {
	v     *View
	pos   []int // field positions of the batch's columns
	raw   *rawRows
	aeads []tink.AEAD // per raw row
	dst   []int       // per raw row: the batch row it fills
	cells [][]byte    // the batch's cells
}

// run decrypts every raw row, in parallel across cores for large batches.
// A value that fails authentication, or decrypts to bytes that cannot be
// its type, fails the whole batch with a KindCorrupt error.
func (j *decryptJob) run() error { return fanout.Run(j.raw.len(), minRowsPerWorker, j.rows) }

func (j *decryptJob) rows(lo, hi int) error {
	var row encodedRow
	m := len(j.pos)
	for r := lo; r < hi; r++ {
		if j.dst[r] < 0 {
			continue // an erased subject's row
		}
		bi := j.raw.bis[r]
		if decodeRow(j.raw.value(r), &row) != nil {
			return errorf(KindCorrupt, "view %q: row of subject %s is malformed; restore the data from a backup", j.v.Name, bi)
		}
		aad := newRowAAD(j.v.Name, bi, j.raw.events[r], row.schemaVersion)
		a := j.aeads[r]
		out := j.cells[j.dst[r]*m : (j.dst[r]+1)*m]
		for c, fi := range j.pos {
			if fi >= len(row.slots) || row.slots[fi] == nil {
				out[c] = nil
				continue
			}
			f := &j.v.Fields[fi]
			plain, err := a.Decrypt(row.slots[fi], aad.field(f.Name))
			if err != nil || !validPlain(f.Type, plain) {
				return tamperError(j.v, f, bi)
			}
			if plain == nil {
				plain = emptyPlain
			}
			out[c] = plain
		}
	}
	return nil
}
