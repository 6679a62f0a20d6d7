package online

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the tier's Prometheus series. None carries a key or a value.
type metrics struct {
	reads                                *prometheus.CounterVec
	hit, miss, bypass                    prometheus.Counter
	errs                                 *prometheus.CounterVec
	errRead, errWrite, errFill, errErase prometheus.Counter
	corrupt                              prometheus.Counter
	depth, oldest, up                    prometheus.GaugeFunc
}

func newMetrics(t *Tier) metrics {
	m := metrics{
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "featurevault_online_reads_total",
			Help: "Subjects read through the online tier, by result: hit (from Redis), miss (not in Redis: from the store, then copied), bypass (an outbox entry was pending, or Redis was down between probes: from the store).",
		}, []string{"result"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "featurevault_online_redis_errors_total",
			Help: "Redis calls of the online tier that failed, by operation (read: answered from the store; write: left in the outbox; fill; erase).",
		}, []string{"op"}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "featurevault_online_corrupt_total",
			Help: "Rows read from Redis that were malformed or failed authentication, and were answered from the store.",
		}),
	}
	m.hit, m.miss, m.bypass = m.reads.WithLabelValues("hit"), m.reads.WithLabelValues("miss"), m.reads.WithLabelValues("bypass")
	m.errRead, m.errWrite, m.errFill, m.errErase = m.errs.WithLabelValues("read"), m.errs.WithLabelValues("write"), m.errs.WithLabelValues("fill"), m.errs.WithLabelValues("erase")
	m.depth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "featurevault_online_outbox_depth",
		Help: "Outbox entries not yet applied to Redis.",
	}, func() float64 { return float64(t.depth()) })
	m.oldest = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "featurevault_online_outbox_oldest_seconds",
		Help: "Age of the oldest outbox entry not yet applied to Redis (0: none): the tier's lag.",
	}, func() float64 { return t.oldest().Seconds() })
	m.up = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "featurevault_online_up",
		Help: "1 when the last Redis call of the online tier succeeded, 0 when it failed.",
	}, func() float64 {
		if t.up.Load() {
			return 1
		}
		return 0
	})
	return m
}

// Collectors returns the tier's metrics, to register with the server's
// Prometheus registry.
func (t *Tier) Collectors() []prometheus.Collector {
	m := &t.metrics
	return []prometheus.Collector{m.reads, m.errs, m.corrupt, m.depth, m.oldest, m.up}
}

func (t *Tier) oldest() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first time.Time
	for _, e := range t.outbox {
		if first.IsZero() || e.enq.Before(first) {
			first = e.enq
		}
	}
	if first.IsZero() {
		return 0
	}
	return time.Since(first)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
