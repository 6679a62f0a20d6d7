package keys_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

func BenchmarkBlindIndex(b *testing.B) {
	k, _ := openNew(b, testOptions(b))
	for b.Loop() {
		if _, err := k.BlindIndex("customer", "c-0000042"); err != nil {
			b.Fatal(err)
		}
	}
}

// cachedSubjects opens a keyring holding n subjects, all cached.
func cachedSubjects(b *testing.B, n int) (*keys.Keyring, []keys.BlindIndex) {
	k, _ := openNew(b, testOptions(b))
	bis := make([]keys.BlindIndex, n)
	for i := range bis {
		bis[i] = mustBI(b, k, "customer", fmt.Sprint("c-", i))
	}
	if _, _, err := k.SubjectAEADs("customer", bis, true); err != nil {
		b.Fatal(err)
	}
	return k, bis
}

// BenchmarkSubjectAEADHit is the per-read cost of a cached subject key.
func BenchmarkSubjectAEADHit(b *testing.B) {
	k, bis := cachedSubjects(b, 1024)
	i := 0
	for b.Loop() {
		if _, _, err := k.SubjectAEAD("customer", bis[i%len(bis)], false); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSubjectAEADHitParallel is SubjectAEADHit from GOMAXPROCS goroutines.
func BenchmarkSubjectAEADHitParallel(b *testing.B) {
	k, bis := cachedSubjects(b, 1024)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, _, err := k.SubjectAEAD("customer", bis[(i*7)%len(bis)], false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSubjectAEADMiss reads and unwraps a stored subject key (cache of 1,
// two subjects read alternately: every read misses).
func BenchmarkSubjectAEADMiss(b *testing.B) {
	k, _ := openNew(b, testOptions(b).WithCacheSize(1))
	bis := []keys.BlindIndex{mustBI(b, k, "customer", "c-1"), mustBI(b, k, "customer", "c-2")}
	for _, bi := range bis {
		if _, _, err := k.SubjectAEAD("customer", bi, true); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		if _, _, err := k.SubjectAEAD("customer", bis[i%2], false); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSubjectCreate makes, wraps and stores a new subject key.
func BenchmarkSubjectCreate(b *testing.B) {
	k, _ := openNew(b, testOptions(b))
	bis := make([]keys.BlindIndex, b.N)
	for i := range bis {
		bis[i] = mustBI(b, k, "customer", fmt.Sprint("new-", i))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := k.SubjectAEAD("customer", bis[i], true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubjectAEADsBatch100Hit is a 100-entity online read, all cached.
func BenchmarkSubjectAEADsBatch100Hit(b *testing.B) {
	k, bis := cachedSubjects(b, 100)
	for b.Loop() {
		if _, _, err := k.SubjectAEADs("customer", bis, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecrypt8ByteValue is the raw cost of one value: Tink AES256-GCM
// (no prefix) decrypt of an 8-byte plaintext.
func BenchmarkDecrypt8ByteValue(b *testing.B) {
	h, err := keyset.NewHandle(aead.AES256GCMNoPrefixKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		b.Fatal(err)
	}
	ad := []byte("customer_profile|income|0123456789abcdef|1700000000|3")
	ct, err := a.Encrypt(make([]byte, 8), ad)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8)
	for b.Loop() {
		if _, err := a.Decrypt(ct, ad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubjectKeyCacheBytes reports what one cached subject key costs
// in heap (in process; store.PlanMemory's subjectKeyBytes must cover it):
// the heap grown by creating and caching 20 000 more subjects in a keyring
// already open, with their blind indexes computed beforehand.
func BenchmarkSubjectKeyCacheBytes(b *testing.B) {
	const n = 20000
	for b.Loop() {
		k, _ := cachedSubjects(b, 1)
		bis := make([]keys.BlindIndex, n)
		for i := range bis {
			bis[i] = mustBI(b, k, "customer", fmt.Sprint("d-", i))
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, _, err := k.SubjectAEADs("customer", bis, true); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-B/subject")
		runtime.KeepAlive(k)
		runtime.KeepAlive(bis)
	}
}
