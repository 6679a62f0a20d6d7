package keys_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/kv"
)

// BenchmarkRewrap measures re-wrapping subject keys under a new KEK
// version: each iteration rotates the KEK (untimed), then re-wraps all
// 50,000 subject keys of an on-disk keystore with synchronous writes, as
// a server does. Reported as keys/s.
func BenchmarkRewrap(b *testing.B) {
	const subjects = 50_000
	uri, _ := localURI(b)
	ks, err := kv.OpenBadger(kv.DefaultOptions(b.TempDir())) // synchronous writes, as store.Open does
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ks.Close() })
	k, err := keys.Open(context.Background(), ks, quietOptions(uri).WithCreate(true))
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	bis := make([]keys.BlindIndex, 0, 1000)
	for i := range subjects {
		bis = append(bis, mustBI(b, k, "customer", fmt.Sprintf("c-%d", i)))
		if len(bis) == cap(bis) {
			if _, _, err := k.SubjectAEADs("customer", bis, true); err != nil {
				b.Fatal(err)
			}
			bis = bis[:0]
		}
	}
	ctx := context.Background()
	done := 0
	for b.Loop() {
		b.StopTimer()
		if _, err := k.RotateKEK(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, err := k.Rewrap(ctx, keys.RewrapOptions{})
		if err != nil || p.Done < subjects {
			b.Fatalf("rewrap: %+v, %v", p, err)
		}
		done += p.Done
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "keys/s")
}
