package store

import "github.com/tink-crypto/tink-go/v2/tink"

// A Scanner runs as a pipeline of three stages, each on its own goroutine
// and each working on its own buffer:
//
//	read (Scanner.read):  seek through the KV, copy rows, load subject keys and records
//	decrypt (decryptLoaded): decrypt subject records and values, in parallel across cores
//	consume (Next):       the caller's work on the current batch
//
// Buffers circulate free -> read -> loaded -> decrypt -> results -> Next ->
// free, so memory holds at most three batches and a slow caller stops the
// pipeline rather than letting it run ahead.

// scanBuf is one batch in flight: the rows copied from the KV, their
// subjects and the decrypted batch. A Scanner has three, so that reading
// batch k+2 from the KV, decrypting batch k+1 and the caller's work on
// batch k overlap.
type scanBuf struct {
	raw   rawRows
	subs  batchSubjects
	batch Batch
}

type scanResult struct {
	buf *scanBuf
	err error
}

// Next makes the next batch current. It returns false when the view is
// exhausted or on an error (see Err); the context given to Scan is checked
// before each batch.
func (sc *Scanner) Next() bool {
	if sc.err != nil || sc.closed {
		return false
	}
	if !sc.started {
		sc.started = true
		sc.loaded = make(chan scanResult, 1)
		sc.results = make(chan scanResult, 1)
		sc.free = make(chan *scanBuf, scanBuffers)
		sc.stop = make(chan struct{})
		for range scanBuffers {
			sc.free <- &scanBuf{raw: rawRows{hint: sc.rows}, batch: Batch{fields: sc.fields}}
		}
		go sc.read()
		go sc.decryptLoaded()
	}
	if sc.cur != nil {
		sc.free <- sc.cur // never blocks: free holds every buffer
		sc.cur = nil
	}
	r, ok := <-sc.results
	switch {
	case !ok:
		return false
	case r.err != nil:
		sc.err = r.err
		return false
	}
	sc.cur = r.buf
	return true
}

// scanBuffers is how many batches a Scanner has in flight.
const scanBuffers = 3

// read is the first stage: it fills free buffers with rows from the KV
// and their subjects' keys and records, until the view is exhausted, an
// error occurs or Close is called.
func (sc *Scanner) read() {
	defer close(sc.loaded)
	for {
		var buf *scanBuf
		select {
		case buf = <-sc.free:
		case <-sc.stop:
			return
		}
		more, err := sc.fill(buf)
		if err == nil && !more {
			return
		}
		select {
		case sc.loaded <- scanResult{buf, err}:
		case <-sc.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// decryptLoaded is the second stage: it decrypts what read loaded and hands
// it to Next, skipping batches left empty by erased subjects.
func (sc *Scanner) decryptLoaded() {
	defer close(sc.results)
	for r := range sc.loaded {
		if r.err == nil {
			r.err = sc.decrypt(r.buf)
		}
		if r.err == nil && r.buf.batch.n == 0 {
			sc.free <- r.buf
			continue
		}
		select {
		case sc.results <- r:
		case <-sc.stop:
			return
		}
		if r.err != nil {
			return
		}
	}
}

// fill reads the next batch of rows into buf and loads their subjects;
// more is false when the view is exhausted.
func (sc *Scanner) fill(buf *scanBuf) (more bool, err error) {
	for sc.resume != nil {
		if err := sc.ctx.Err(); err != nil {
			return false, err
		}
		buf.raw.reset()
		sc.filling = buf
		start := sc.resume
		sc.resume = nil
		if err := sc.s.data.Seek(sc.prefix, start, sc.visit); err != nil {
			return false, err
		}
		if buf.raw.len() == 0 {
			continue
		}
		groupSubjects(buf.raw.bis, &buf.subs)
		return true, sc.s.loadSubjects(sc.ctx, sc.ent, &buf.subs, sc.names)
	}
	return false, nil
}

// Close stops the scan and releases its goroutine. Batches returned
// earlier must not be used afterwards. Close is safe to call more than
// once and after the end of the scan.
func (sc *Scanner) Close() error {
	if sc.closed {
		return nil
	}
	sc.closed = true
	if sc.started {
		close(sc.stop)
		for range sc.results { // wait for the producer to finish
		}
	}
	sc.cur = nil
	return nil
}

// decrypt decrypts the subject records and rows that fill loaded into
// buf's batch, leaving out rows of erased subjects.
func (sc *Scanner) decrypt(buf *scanBuf) error {
	raw, subs := &buf.raw, &buf.subs
	if err := decryptNames(sc.ent, subs); err != nil {
		return err
	}
	n := 0
	dst := make([]int, raw.len())
	for r := range raw.len() {
		if subs.aeads[subs.of[r]] == nil {
			dst[r] = -1
			sc.skipped.Add(1)
			continue
		}
		dst[r] = n
		n++
	}
	b := &buf.batch
	b.reset(n)
	job := decryptJob{v: sc.v, pos: sc.pos, raw: raw, dst: dst, cells: b.cells, aeads: make([]tink.AEAD, raw.len())}
	for r := range raw.len() {
		if dst[r] < 0 {
			continue
		}
		si := subs.of[r]
		job.aeads[r] = subs.aeads[si]
		b.keys[dst[r]] = subs.names[si]
		b.subjects[dst[r]] = raw.bis[r]
		b.events[dst[r]] = raw.events[r]
		b.created[dst[r]] = raw.created[r]
		b.found[dst[r]] = true
	}
	return job.run()
}
