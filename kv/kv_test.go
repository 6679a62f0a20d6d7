package kv_test

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

func TestUpdateIsAtomicUnderConcurrency(t *testing.T) {
	t.Parallel()
	db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := kv.Update(db, []byte("n"), func(old []byte) ([]byte, error) {
					var n uint64
					if old != nil {
						n = binary.BigEndian.Uint64(old)
					}
					return binary.BigEndian.AppendUint64(nil, n+1), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, err := db.Get([][]byte{[]byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint64(v[0]); got != workers*each {
		t.Errorf("counter = %d after %d increments; updates were lost", got, workers*each)
	}
}

func TestFirstAndScanHonourPrefixes(t *testing.T) {
	t.Parallel()
	db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Apply([]kv.Op{{Key: []byte("a/2"), Value: []byte("x")}, {Key: []byte("a/1"), Value: []byte("y")}, {Key: []byte("b/1"), Value: []byte("z")}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.First([][]byte{[]byte("a/"), []byte("c/"), []byte("b/")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/1=y", "=", "b/1=z"}
	for i, e := range got {
		if s := string(e.Key) + "=" + string(e.Value); s != want[i] {
			t.Errorf("First[%d] = %s, want %s", i, s, want[i])
		}
	}
	var keys []string
	if err := db.Scan([]byte("a/"), func(e kv.Entry) error { keys = append(keys, string(e.Key)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != "a/1" || keys[1] != "a/2" {
		t.Errorf("Scan(a/) = %v, want [a/1 a/2]", keys)
	}
	if err := db.Apply([]kv.Op{{Key: []byte("a/1"), Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := kv.HasPrefix(db, []byte("a/1")); ok {
		t.Error("a/1 still present after delete")
	}
}
