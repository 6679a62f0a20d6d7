package store

import (
	"slices"
	"sync"

	"github.com/featurevault/featurevault/keys"
)

// subjectLocks serialise what changes a subject as a whole (erasure,
// subject-key rotation) against writes of that subject. A write holds the
// read side of its subjects' stripes from the suppression check to its
// commit; an erasure or a rotation holds the write side. So a write never
// commits rows under a key an erasure just destroyed, nor slips past a
// suppression being recorded. Subjects hash onto stripes by the first byte
// of their blind index, a keyed PRF output and so uniform.
type subjectLocks struct {
	mu [256]sync.RWMutex
}

// stripes returns the distinct stripes of bis, ascending: locks are always
// taken in that order, so that no two callers deadlock.
func (l *subjectLocks) stripes(bis []keys.BlindIndex) []int {
	out := make([]int, len(bis))
	for i, bi := range bis {
		out[i] = int(bi[0])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// shared read-locks the stripes of bis and returns the unlock.
func (l *subjectLocks) shared(bis []keys.BlindIndex) func() {
	st := l.stripes(bis)
	for _, s := range st {
		l.mu[s].RLock()
	}
	return func() {
		for _, s := range st {
			l.mu[s].RUnlock()
		}
	}
}

// exclusive write-locks the stripes of bis and returns the unlock.
func (l *subjectLocks) exclusive(bis []keys.BlindIndex) func() {
	st := l.stripes(bis)
	for _, s := range st {
		l.mu[s].Lock()
	}
	return func() {
		for _, s := range st {
			l.mu[s].Unlock()
		}
	}
}
