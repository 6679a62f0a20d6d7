package audit

import (
	"errors"
	"fmt"

	"github.com/featurevault/featurevault/kv"
)

// commitShared chains and writes batch for a log that several servers
// append to (WithShared): the head is read from the store under its lock,
// the records are chained after it, and the records and the new head are
// written in the same guarded batch. If another server moved the head in
// between, the batch is chained again after the new head.
func (l *Log) commitShared(batch []*pending) {
	var ok []*pending
	var head Checkpoint
	var err error
	for range 5 {
		err = l.applyShared(batch, &ok, &head)
		if !errors.Is(err, errHeadAppeared) {
			break
		}
	}
	if err != nil {
		for _, p := range batch {
			if p.err == nil {
				p.err = fmt.Errorf("audit: append record: %w", err)
			}
			p.out = Record{}
		}
		return
	}
	l.committed(head, ok)
}

// swapped tries to commit batch for a shared log in one step: chained
// after the head this server last committed, and written only if the
// store's head is still that one (kv.Swapper; on PostgreSQL one round trip
// where commitShared takes two). It reports false, having written nothing,
// when the store cannot swap, the log is empty, or another server moved
// the head meanwhile; commitShared then chains after the current head. An
// outdated l.head is never a risk: the swap is conditioned on the head in
// the store, not on l.head being current.
func (l *Log) swapped(batch []*pending) bool {
	sw, ok := l.store.(kv.Swapper)
	if !ok || l.head.Seq == 0 || !l.swaps.try() {
		return false
	}
	ops, accepted, head := l.chain(l.head, batch)
	if len(accepted) == 0 {
		return true // chain refused every record and said why
	}
	ops = append(ops, kv.Op{Key: headKey, Value: encodeHead(head)})
	won, err := sw.ApplyIf(headKey, encodeHead(l.head), ops)
	if err != nil {
		// The write may or may not have landed; either way the next swap
		// is conditioned on the store's head.
		failed(accepted, err)
		return true
	}
	l.swaps.record(won)
	if !won {
		for _, p := range batch {
			p.out, p.err = Record{}, nil
		}
		return false
	}
	l.committed(head, accepted)
	return true
}

// swapBackoff skips one-step commits while other servers keep moving the
// head first: after n losses in a row the next 2^n commits (at most 64)
// go straight to the lock, so a contended log does not pay a lost round
// trip on every commit, and a server appending alone swaps every time.
type swapBackoff struct {
	losses, skip int
}

func (b *swapBackoff) try() bool {
	if b.skip > 0 {
		b.skip--
		return false
	}
	return true
}

func (b *swapBackoff) record(won bool) {
	if won {
		b.losses = 0
		return
	}
	b.losses = min(b.losses+1, 6)
	b.skip = 1 << b.losses
}

// errHeadAppeared: the head was absent under the lock, but another server
// created it (with the first records) before the records were checked.
var errHeadAppeared = errors.New("audit: another server started the log meanwhile")

// applyShared is one guarded attempt of commitShared.
func (l *Log) applyShared(batch []*pending, ok *[]*pending, head *Checkpoint) error {
	return kv.ApplyGuarded(l.store, headKey, func(cur []byte) ([]kv.Op, error) {
		h, err := l.sharedHead(cur)
		if err != nil {
			return nil, err
		}
		for _, p := range batch {
			p.out, p.err = Record{}, nil
		}
		var ops []kv.Op
		ops, *ok, *head = l.chain(h, batch)
		if len(*ok) == 0 {
			return nil, nil
		}
		return append(ops, kv.Op{Key: headKey, Value: encodeHead(*head)}), nil
	})
}

// sharedHead decodes the head pointer read under the lock. An absent head
// is an empty log only if no record exists: another server's records
// without a head mean damage, which appending would bury.
func (l *Log) sharedHead(cur []byte) (Checkpoint, error) {
	if cur == nil {
		first, err := l.store.First([][]byte{prefix})
		if err != nil {
			return Checkpoint{}, fmt.Errorf("audit: read log: %w", err)
		}
		if first[0].Key != nil {
			// Records without a head: damage, unless another server has
			// just written both (after this transaction's read of the head).
			if h, err := l.store.Get([][]byte{headKey}); err == nil && h[0] != nil {
				return Checkpoint{}, errHeadAppeared
			}
			return Checkpoint{}, fmt.Errorf("%w: records exist but the head pointer is missing", ErrHeadMismatch)
		}
		return Checkpoint{}, nil
	}
	c, ok := decodeHead(cur)
	if !ok {
		return Checkpoint{}, errors.Join(ErrHeadMismatch, errors.New("audit: the head pointer is malformed"))
	}
	return c, nil
}
