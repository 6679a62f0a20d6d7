package audit_test

import (
	"strconv"
	"testing"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/signature"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
)

// BenchmarkAppend measures one append at a time (in-memory Badger, and a
// durable Badger directory that syncs every commit) and concurrent appends
// (b.RunParallel) with and without group commit.
func BenchmarkAppend(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) kv.Store
	}{
		{"mem", func(b *testing.B) kv.Store { return newMemStore(b) }},
		{"disk-sync", func(b *testing.B) kv.Store {
			s, err := kv.OpenBadger(kv.DefaultOptions(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		b.Run(st.name+"/serial", func(b *testing.B) {
			l := openLog(b, st.open(b), newMAC(b), testOptions())
			r := sample(0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Append(b.Context(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, batch := range []int{1, 256} {
			b.Run(st.name+"/parallel-batch"+strconv.Itoa(batch), func(b *testing.B) {
				l := openLog(b, st.open(b), newMAC(b), testOptions().WithMaxBatch(batch))
				r := sample(0)
				b.ReportAllocs()
				b.SetParallelism(16) // 16 × GOMAXPROCS request goroutines
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := l.Append(b.Context(), r); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkVerify reports the cost of verifying one record (ns/record) over
// a 10,000-record log.
func BenchmarkVerify(b *testing.B) {
	const n = 10_000
	s := newMemStore(b)
	l := openLog(b, s, newMAC(b), testOptions().WithMaxBatch(256))
	for i := range n {
		if _, err := l.Append(b.Context(), sample(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := l.Verify(b.Context())
		if err != nil || !rep.OK() || rep.Records != n {
			b.Fatalf("Verify = %d records, %v, %v", rep.Records, rep.Problems, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// BenchmarkCheckpointSign measures signing a checkpoint over 10 000 new
// records: reading them, checking each MAC and link, extending the SHA-256
// chain and one Ed25519 signature.
func BenchmarkCheckpointSign(b *testing.B) {
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l, err := audit.Open(s, newMAC(b), audit.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	h, err := keyset.NewHandle(signature.ED25519KeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	cp, err := audit.NewCheckpointer(l, h, "")
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	b.ReportMetric(n, "records/op")
	for b.Loop() {
		b.StopTimer()
		for i := range n {
			if _, err := l.Append(b.Context(), sample(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, created, err := cp.Sign(b.Context()); err != nil || !created {
			b.Fatal(created, err)
		}
	}
}
