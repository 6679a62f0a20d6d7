package main

import (
	"math"
	"strings"
	"testing"
)

// heapText is a heap?debug=1 profile in miniature: a cached Badger block
// site (two 4 KiB samples), another site of 1 MiB, and the MemStats lines.
const heapText = `heap profile: 3: 1056768 [10: 2000000] @ heap/1048576
2: 8192 [5: 20480] @ 0x1 0x2 0x3
#	0x1	github.com/dgraph-io/ristretto/v2/z.Calloc+0x1	/m/z/calloc.go:10
#	0x2	github.com/dgraph-io/badger/v4/table.(*Table).block+0x2	/m/table/table.go:560
#	0x3	github.com/dgraph-io/badger/v4/table.(*Table).block+0x9	/m/table/table.go:570

1: 1048576 [1: 1048576] @ 0x4
#	0x4	github.com/featurevault/featurevault/store.(*rawRows).add+0x4	/m/store/rows.go:1

# runtime.MemStats
# Alloc = 5000000
# TotalAlloc = 9000000
# HeapAlloc = 5000123
# HeapSys = 8000000
`

func TestParseHeapTextCountsOnlyBlockCacheSites(t *testing.T) {
	t.Parallel()
	got, err := parseHeapText(strings.NewReader(heapText))
	if err != nil {
		t.Fatal(err)
	}
	// two samples of 4 KiB at a sampling rate of 512 KiB, scaled up once
	// even though the site names the block function twice
	wantCache := 8192 / (1 - math.Exp(-4096.0/524288))
	if got.heapAlloc != 5000123 || math.Abs(float64(got.blockCache)-wantCache) > 1 {
		t.Errorf("parseHeapText = %+v, want heapAlloc 5000123 and blockCache %.0f", got, wantCache)
	}
}

func TestParseHeapTextRefusesOtherFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"goroutine profile", "goroutine profile: total 12\n"},
		{"no HeapAlloc", "heap profile: 0: 0 [0: 0] @ heap/1048576\n"},
		{"bad record", "heap profile: 0: 0 [0: 0] @ heap/1048576\n1x: 2\n# HeapAlloc = 1\n"},
	} {
		if got, err := parseHeapText(strings.NewReader(tc.text)); err == nil {
			t.Errorf("%s: parseHeapText = %+v, nil; want an error", tc.name, got)
		}
	}
}
