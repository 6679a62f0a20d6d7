package privacy

import "bytes"

// bounder keeps at most n rows per subject: the first n the feed emits for
// that subject. Which rows a subject keeps depends only on the order of its
// own rows in the feed, never on other subjects, so bounding is a
// per-subject transformation and the sensitivity analysis holds. (Fed from
// the store, rows of a subject come newest first: the newest n are kept.)
//
// sorted: the feed promises subjects in ascending byte order, all rows of a
// subject together; only the current subject is remembered and the promise
// is checked. Otherwise a map remembers every subject's count.
type bounder struct {
	n       uint64
	sorted  bool
	started bool
	cur     []byte
	kept    *uint64 // rows kept for cur
	seen    map[string]*uint64
	single  uint64 // the counter of cur in sorted mode
}

func newBounder(n uint64, sorted bool) *bounder {
	b := &bounder{n: n, sorted: sorted}
	if !sorted {
		b.seen = make(map[string]*uint64)
	}
	return b
}

// admit reports whether the next row of subject is kept.
func (b *bounder) admit(subject []byte) (bool, error) {
	if !b.started || !bytes.Equal(subject, b.cur) {
		if err := b.switchTo(subject); err != nil {
			return false, err
		}
	}
	if *b.kept >= b.n {
		return false, nil
	}
	*b.kept++
	return true, nil
}

func (b *bounder) switchTo(subject []byte) error {
	if b.sorted {
		if b.started && bytes.Compare(subject, b.cur) < 0 {
			return ErrUnsortedFeed
		}
		b.single, b.kept = 0, &b.single
	} else {
		k, ok := b.seen[string(subject)]
		if !ok {
			k = new(uint64)
			b.seen[string(subject)] = k
		}
		b.kept = k
	}
	b.cur = append(b.cur[:0], subject...)
	b.started = true
	return nil
}
