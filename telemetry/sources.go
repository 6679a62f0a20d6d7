package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/keys"
)

// Sources are the domain counters T reads when Prometheus scrapes. Either
// may be nil; its series are then left out.
type Sources struct {
	// Keys is the keyring (its Stats: subject-key cache and KMS calls).
	Keys interface{ Stats() keys.Stats }
	// Audit is the audit log (its Head: the number of records).
	Audit interface {
		Head(context.Context) (audit.Checkpoint, error)
	}
}

// Watch makes t export s's counters from the next scrape on, replacing the
// sources watched before (a server calls it with its backend).
func (t *T) Watch(s Sources) {
	if t == nil {
		return
	}
	t.sources.Store(&s)
}

var (
	descCacheHits = prometheus.NewDesc("featurevault_key_cache_hits_total",
		"Subject-key cache lookups that found the unwrapped key.", nil, nil)
	descCacheMisses = prometheus.NewDesc("featurevault_key_cache_misses_total",
		"Subject-key cache lookups that missed, so the wrapped key was read from the keystore and unwrapped with the KEK.", nil, nil)
	descCacheEvictions = prometheus.NewDesc("featurevault_key_cache_evictions_total",
		"Unwrapped subject keys evicted from the cache to make room.", nil, nil)
	descCacheEntries = prometheus.NewDesc("featurevault_key_cache_entries",
		"Unwrapped subject keys in the cache now.", nil, nil)
	descKMSCalls = prometheus.NewDesc("featurevault_kms_calls_total",
		"Calls to the root KMS, by operation: get_aead (obtain the root key handle), wrap (encrypt a KEK), unwrap (decrypt a KEK). Made at start and on rotation, never per value.",
		[]string{"op"}, nil)
	descAuditRecords = prometheus.NewDesc("featurevault_audit_records_total",
		"Records in the hash-chained audit log (its head sequence number).", nil, nil)
)

// auditHeadTimeout bounds the read of the audit head during a scrape.
const auditHeadTimeout = 2 * time.Second

// sourcesCollector exports the watched Sources, read once per scrape.
type sourcesCollector struct{ t *T }

func (c sourcesCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCacheHits, descCacheMisses, descCacheEvictions, descCacheEntries, descKMSCalls, descAuditRecords} {
		ch <- d
	}
}

func (c sourcesCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.t.sources.Load()
	if s == nil {
		return
	}
	if s.Keys != nil {
		st := s.Keys.Stats()
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
		}
		counter(descCacheHits, st.CacheHits)
		counter(descCacheMisses, st.CacheMisses)
		counter(descCacheEvictions, st.CacheEvictions)
		ch <- prometheus.MustNewConstMetric(descCacheEntries, prometheus.GaugeValue, float64(st.CacheSize))
		counter(descKMSCalls, st.KMSGetAEAD, "get_aead")
		counter(descKMSCalls, st.KMSWraps, "wrap")
		counter(descKMSCalls, st.KMSUnwraps, "unwrap")
	}
	if s.Audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), auditHeadTimeout)
		defer cancel()
		// An unreadable head leaves the series out of this scrape, which
		// Prometheus shows as a gap rather than a wrong count.
		if h, err := s.Audit.Head(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(descAuditRecords, prometheus.CounterValue, float64(h.Seq))
		}
	}
}
