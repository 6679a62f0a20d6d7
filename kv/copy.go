package kv

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrNotEmpty is returned by Copy when the destination already holds
// entries: copying into it would mix two stores.
var ErrNotEmpty = errors.New("kv: the destination store is not empty; copy into an empty one")

// Copy writes every entry of src into dst, which must be empty, in atomic
// batches of up to batch entries, and returns how many it copied. It moves
// bytes as they are: ciphertext stays ciphertext, nothing is decrypted. If
// it fails part way, dst holds a prefix of src in key order; empty it
// before trying again. progress, when not nil, is called after each batch.
func Copy(dst, src Store, batch int, progress func(copied int)) (int, error) {
	if batch < 1 {
		batch = 1000
	}
	if any, err := HasPrefix(dst, nil); err != nil {
		return 0, err
	} else if any {
		return 0, ErrNotEmpty
	}
	n := 0
	ops := make([]Op, 0, batch)
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		if err := dst.Apply(ops); err != nil {
			return fmt.Errorf("kv: copy after %d entries: %w", n, err)
		}
		n += len(ops)
		ops = ops[:0]
		if progress != nil {
			progress(n)
		}
		return nil
	}
	err := src.Scan(nil, func(e Entry) error {
		ops = append(ops, Op{Key: e.Key, Value: e.Value})
		if len(ops) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// VerifyCopy checks that dst holds exactly the entries of src: every key of
// src reads back from dst with the same bytes, and dst holds no other key.
// It returns the number of entries checked, or an error naming the first
// difference by its position (never by its key or value).
func VerifyCopy(dst, src Store, batch int) (int, error) {
	if batch < 1 {
		batch = 1000
	}
	n := 0
	var pending []Entry
	check := func() error {
		if len(pending) == 0 {
			return nil
		}
		keys := make([][]byte, len(pending))
		for i, e := range pending {
			keys[i] = e.Key
		}
		got, err := dst.Get(keys)
		if err != nil {
			return err
		}
		for i, e := range pending {
			switch {
			case got[i] == nil:
				return fmt.Errorf("kv: verify: entry %d of the source is missing from the destination", n+i+1)
			case !bytes.Equal(got[i], e.Value):
				return fmt.Errorf("kv: verify: entry %d reads back different bytes from the destination", n+i+1)
			}
		}
		n += len(pending)
		pending = pending[:0]
		return nil
	}
	err := src.Scan(nil, func(e Entry) error {
		pending = append(pending, e)
		if len(pending) == batch {
			return check()
		}
		return nil
	})
	if err == nil {
		err = check()
	}
	if err != nil {
		return n, err
	}
	total := 0
	if err := dst.Scan(nil, func(Entry) error { total++; return nil }); err != nil {
		return n, err
	}
	if total != n {
		return n, fmt.Errorf("kv: verify: the destination holds %d entries, the source %d", total, n)
	}
	return n, nil
}
