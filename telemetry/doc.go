// Package telemetry measures a FeatureVault server for the people who run
// it: Prometheus metrics, served on a listener of their own, and
// OpenTelemetry traces exported over OTLP/HTTP.
//
// # What is measured
//
// A T owns a prometheus.Registry (never the global default one) holding the
// Go runtime and process collectors and these series:
//
//	featurevault_rpc_requests_total{procedure,code}      calls served, by outcome
//	featurevault_rpc_duration_seconds{procedure}         time to serve a call (a stream: its whole life)
//	featurevault_policy_decisions_total{action,effect}   policy decisions (per column), allowed or denied
//	featurevault_key_cache_hits_total                    subject-key cache lookups that hit
//	featurevault_key_cache_misses_total                  ... that missed (the key is read and unwrapped)
//	featurevault_key_cache_evictions_total               subject keys evicted to make room
//	featurevault_key_cache_entries                       unwrapped subject keys held now
//	featurevault_kms_calls_total{op}                     calls to the root KMS: get_aead, wrap, unwrap
//	featurevault_privacy_budget_spent_epsilon_total      epsilon charged by released DP aggregates
//	featurevault_erasures_total                          data subjects erased (crypto-shredded)
//	featurevault_audit_records_total                     records in the audit log (its head sequence)
//
// Requests and decisions are counted as they happen, through Interceptors
// and the Decided, SpentEpsilon and Erased methods that the rpc package
// calls. Key, KMS and audit figures are read from the domain packages'
// own counters (keys.Keyring.Stats, audit.Log.Head) when Prometheus
// scrapes, so nothing is counted twice and the domain packages never
// import Prometheus. A unary call refused before its message was decoded
// (a message over the size limit, say) never reaches an interceptor and is
// not counted.
//
// # What no metric or span ever carries
//
// No label value and no span attribute carries a feature value, a raw
// entity key, a bearer token, key material or a principal's name. Label
// values come only from fixed sets: the server's procedure names, Connect
// codes, the policy's actions, two effects and three KMS operations.
// Principal names in particular are never labels: there is one per
// person, service and job (unbounded cardinality), and a name is itself
// identifying. Metrics carry no secrets, but they do reveal the shape of
// the traffic (which calls, how many, how fast), which is why the metrics
// listener obeys the same rule as the API: plaintext on loopback only,
// unless TLS is on or plaintext is explicitly allowed.
//
// Spans are built by connectrpc.com/otelconnect with its defaults: no
// request or response headers (so never Authorization), no message
// bodies, no peer address. NewTracerProvider then exports only an
// allow-list of attributes (the RPC system, the procedure and the status
// code), drops span events and blanks status descriptions, so even a
// future span.SetAttributes with a value, or an error message, cannot
// reach the collector. Server spans start a new trace linked to the
// caller's, rather than continuing it: a client cannot force its requests
// to be sampled.
package telemetry
