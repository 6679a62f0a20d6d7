package benchdata

import (
	"slices"
	"testing"
	"time"
)

// Latencies records the duration of each operation of a benchmark and
// reports percentiles as custom metrics (p50-ns, p99-ns), because a mean
// (ns/op) hides the tail that online inference cares about.
type Latencies struct {
	d []time.Duration
}

// Time runs op and records how long it took.
func (l *Latencies) Time(op func()) {
	start := time.Now()
	op()
	l.d = append(l.d, time.Since(start))
}

// Percentile returns the p-th percentile (0 < p <= 100) of what was recorded.
func (l *Latencies) Percentile(p float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Report adds p50-ns, p99-ns and max-ns to b's results.
func (l *Latencies) Report(b *testing.B) {
	b.ReportMetric(float64(l.Percentile(50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(l.Percentile(99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(l.Percentile(100).Nanoseconds()), "max-ns")
}
