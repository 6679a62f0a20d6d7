package online

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Status is the tier's health, lag and hit rate.
type Status struct {
	ClusterState  string        // Redis's cluster_state ("ok", "fail"), or "unreachable"
	Up            bool          // the last Redis call succeeded
	OutboxDepth   int           // entries not yet applied to Redis
	OutboxOldest  time.Duration // age of the oldest of them: the lag
	Hits, Misses  uint64
	Bypasses      uint64
	Errors        uint64 // failed Redis calls, every operation
	CorruptCopies uint64
}

// HitRate is hits over reads through Redis (hits and misses), or 0.
func (s Status) HitRate() float64 {
	if n := s.Hits + s.Misses; n > 0 {
		return float64(s.Hits) / float64(n)
	}
	return 0
}

// Status asks Redis for its cluster state and reports the tier's counters.
func (t *Tier) Status(ctx context.Context) Status {
	s := Status{ClusterState: "unreachable", Up: t.up.Load(), OutboxDepth: t.depth(), OutboxOldest: t.oldest()}
	if info, err := t.rc.ClusterInfo(ctx).Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
				s.ClusterState = v
			}
		}
	}
	s.Hits, s.Misses, s.Bypasses = count(t.metrics.hit), count(t.metrics.miss), count(t.metrics.bypass)
	s.Errors = count(t.metrics.errRead) + count(t.metrics.errWrite) + count(t.metrics.errFill) + count(t.metrics.errErase)
	s.CorruptCopies = count(t.metrics.corrupt)
	return s
}

func count(c prometheus.Counter) uint64 {
	var m dto.Metric
	if c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return uint64(m.Counter.GetValue())
}
