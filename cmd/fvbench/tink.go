package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/featurevault/featurevault/internal/benchdata"
)

// TinkLimit is the physical-limit line: a raw Tink AES-256-GCM decrypt
// loop over ciphertexts shaped like FeatureVault's (an 8-byte float64
// under a per-subject key without prefix, associated data of the same
// length as a value's), with no storage, policy, audit or network. Any
// read or export is slower; how much slower is the figure to watch.
type TinkLimit struct {
	Values         int64   `json:"values"`
	Keys           int     `json:"keys"`
	Goroutines     int     `json:"goroutines"`
	OneCorePerSec  float64 `json:"one_goroutine_values_per_second"`
	AllCoresPerSec float64 `json:"all_goroutines_values_per_second"`
	NsPerValue     float64 `json:"ns_per_value_one_goroutine"`
	// Direct is the same loop on one goroutine through aesgcm.NewAEAD on
	// each keyset's primary key, skipping the keyset wrapper (aead.New)
	// that FeatureVault's subject keys go through: the wrapper's cost per
	// value is NsPerValue minus DirectNsPerValue.
	DirectPerSec     float64 `json:"direct_one_goroutine_values_per_second"`
	DirectNsPerValue float64 `json:"direct_ns_per_value"`
	Online1x50Us     float64 `json:"decrypt_floor_1x50_us"`
	Online100x50Us   float64 `json:"decrypt_floor_100x50_us"`
	CiphertextBytes  int     `json:"ciphertext_bytes"`
}

// measureTinkLimit decrypts values ciphertexts (cycling over a pool of
// distinct ones, under keys subject keys) once on one goroutine and once
// on GOMAXPROCS goroutines.
func measureTinkLimit(values int64, keys int) (*TinkLimit, error) {
	const pool = 1 << 16
	prims := make([]tink.AEAD, keys)
	direct := make([]tink.AEAD, keys)
	for i := range prims {
		h, err := keyset.NewHandle(aead.AES256GCMNoPrefixKeyTemplate())
		if err != nil {
			return nil, err
		}
		if prims[i], err = aead.New(h); err != nil {
			return nil, err
		}
		e, err := h.Primary()
		if err != nil {
			return nil, err
		}
		k, ok := e.Key().(*aesgcm.Key)
		if !ok {
			return nil, fmt.Errorf("tink: primary key is a %T, want *aesgcm.Key", e.Key())
		}
		if direct[i], err = aesgcm.NewAEAD(k); err != nil {
			return nil, err
		}
	}
	type ct struct {
		a, direct tink.AEAD
		ct, aad   []byte
		expected  float64
	}
	// associated data as long as a value's: tag, view, blind index, event
	// time, schema version, field
	aad := make([]byte, 0, 64)
	aad = append(aad, "fv1/value"...)
	aad = append(aad, byte(len(benchdata.View)))
	aad = append(aad, benchdata.View...)
	aad = append(aad, make([]byte, 16+8+1)...)
	aad = append(aad, 3, 'f', '0', '0')
	cts := make([]ct, pool)
	for i := range cts {
		v := float64(i) / 7
		plain := binary.BigEndian.AppendUint64(nil, math.Float64bits(v))
		a := prims[i%keys]
		c, err := a.Encrypt(plain, aad)
		if err != nil {
			return nil, err
		}
		cts[i] = ct{a: a, direct: direct[i%keys], ct: c, aad: aad, expected: v}
	}
	loopWith := func(lo, hi int64, viaKeyset bool) error {
		for i := lo; i < hi; i++ {
			c := &cts[i%pool]
			a := c.direct
			if viaKeyset {
				a = c.a
			}
			p, err := a.Decrypt(c.ct, c.aad)
			if err != nil {
				return err
			}
			if math.Float64frombits(binary.BigEndian.Uint64(p)) != c.expected {
				return fmt.Errorf("tink: value %d decrypted wrong", i)
			}
		}
		return nil
	}
	loop := func(lo, hi int64) error { return loopWith(lo, hi, true) }
	out := &TinkLimit{Values: values, Keys: keys, Goroutines: runtime.GOMAXPROCS(0), CiphertextBytes: len(cts[0].ct)}
	start := time.Now()
	if err := loop(0, values); err != nil {
		return nil, err
	}
	one := time.Since(start)
	out.OneCorePerSec = float64(values) / one.Seconds()
	out.NsPerValue = float64(one.Nanoseconds()) / float64(values)
	out.Online1x50Us = out.NsPerValue * benchdata.Fields / 1e3
	out.Online100x50Us = out.NsPerValue * 100 * benchdata.Fields / 1e3
	start = time.Now()
	if err := loopWith(0, values, false); err != nil {
		return nil, err
	}
	d := time.Since(start)
	out.DirectPerSec = float64(values) / d.Seconds()
	out.DirectNsPerValue = float64(d.Nanoseconds()) / float64(values)
	var wg sync.WaitGroup
	errs := make([]error, out.Goroutines)
	start = time.Now()
	for g := range out.Goroutines {
		lo, hi := values*int64(g)/int64(out.Goroutines), values*int64(g+1)/int64(out.Goroutines)
		wg.Go(func() { errs[g] = loop(lo, hi) })
	}
	wg.Wait()
	all := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	out.AllCoresPerSec = float64(values) / all.Seconds()
	return out, nil
}
