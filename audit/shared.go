package audit

import (
	"bytes"
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
	l.head = head
	for _, p := range ok {
		p.out.PrevHash = bytes.Clone(p.out.PrevHash)
		p.out.Hash = bytes.Clone(p.out.Hash)
	}
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
