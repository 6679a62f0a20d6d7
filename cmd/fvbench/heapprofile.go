package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// blockCacheFrame is the function that allocates every block Badger
// keeps in its block cache (badger/v4 table.(*Table).block): bytes in use
// under it are the cache's contents.
const blockCacheFrame = "github.com/dgraph-io/badger/v4/table.(*Table).block"

// heapReading is what the soak takes from a heap profile.
type heapReading struct {
	// heapAlloc is runtime.MemStats.HeapAlloc as the profile states it.
	heapAlloc uint64
	// blockCache estimates the bytes in use that Badger's block caches
	// hold (one per database, each capped at 256 MiB by default).
	blockCache uint64
}

// parseHeapText reads a heap profile in the legacy text format of
// net/http/pprof's heap?debug=1: a header "heap profile: ... @
// heap/2*rate", one record per allocation site ("inuse_objects:
// inuse_bytes [alloc_objects: alloc_bytes] @ pcs") followed by its frames
// ("#\tpc\tfunction+off\tfile:line"), then "# HeapAlloc = N" among the
// runtime.MemStats lines. Record counts are samples, which it scales up
// the way pprof does, so blockCache is an estimate (within a few percent
// once the cache holds thousands of blocks).
func parseHeapText(r io.Reader) (heapReading, error) {
	var out heapReading
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var rate float64
	var objs, bytes float64 // the current record's in-use sample
	counted := false        // whether the current record was added already
	sawAlloc := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "heap profile: "):
			_, r, ok := strings.Cut(line, "@ heap/")
			v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
			if !ok || err != nil || v <= 0 {
				return out, fmt.Errorf("heap profile: header %q has no sampling rate", line)
			}
			rate = v / 2 // the header states twice the rate (see runtime/pprof)
		case strings.HasPrefix(line, "# HeapAlloc = "):
			v, err := strconv.ParseUint(strings.TrimPrefix(line, "# HeapAlloc = "), 10, 64)
			if err != nil {
				return out, fmt.Errorf("heap profile: %q: %w", line, err)
			}
			out.heapAlloc, sawAlloc = v, true
		case strings.HasPrefix(line, "#\t"):
			if !counted && strings.Contains(line, blockCacheFrame) {
				out.blockCache += uint64(scaledBytes(objs, bytes, rate))
				counted = true
			}
		case len(line) > 0 && line[0] >= '0' && line[0] <= '9':
			if _, err := fmt.Sscanf(line, "%g: %g [", &objs, &bytes); err != nil {
				return out, fmt.Errorf("heap profile: record %q: %w", line, err)
			}
			counted = false
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("heap profile: %w", err)
	}
	if rate == 0 || !sawAlloc {
		return out, fmt.Errorf("heap profile: no header or no HeapAlloc line: not the text format of heap?debug=1")
	}
	return out, nil
}

// scaledBytes undoes heap sampling as runtime/pprof's scaleHeapSample
// does: an allocation of size s is sampled with probability
// 1-exp(-s/rate).
func scaledBytes(objs, bytes, rate float64) float64 {
	if objs == 0 || bytes == 0 {
		return 0
	}
	if rate <= 1 {
		return bytes
	}
	return bytes / (1 - math.Exp(-bytes/objs/rate))
}
