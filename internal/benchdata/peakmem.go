package benchdata

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// Memory is a heap measurement in bytes, taken two ways: HeapInuse from
// runtime.ReadMemStats (spans in use: live objects, garbage not yet
// collected and fragmentation), and HeapLive from runtime/metrics
// /gc/heap/live:bytes (the heap the last GC found reachable: what the
// program actually holds, without garbage).
type Memory struct {
	HeapInuse uint64
	HeapLive  uint64
	GCs       uint64 // GC cycles completed so far
}

const liveMetric = "/gc/heap/live:bytes"

func readMemory(sample []metrics.Sample) Memory {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	metrics.Read(sample)
	return Memory{HeapInuse: ms.HeapInuse, HeapLive: sample[0].Value.Uint64(), GCs: uint64(ms.NumGC)}
}

// PeakMemory runs work while sampling the heap every interval, and returns
// the heap just before it (after a GC) and the highest values seen during
// it. Peak minus base is what work added at its worst: flat in the input
// size for a streaming reader, growing for one that buffers.
func PeakMemory(interval time.Duration, work func()) (base, peak Memory) {
	sample := []metrics.Sample{{Name: liveMetric}}
	runtime.GC()
	base = readMemory(sample)
	peak = base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: liveMetric}}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			m := readMemory(s)
			peak.HeapInuse = max(peak.HeapInuse, m.HeapInuse)
			peak.HeapLive = max(peak.HeapLive, m.HeapLive)
			peak.GCs = m.GCs
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	work()
	close(stop)
	wg.Wait()
	return base, peak
}
