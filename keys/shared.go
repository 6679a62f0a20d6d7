package keys

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/keyset"
)

// ForgetCached drops every cached subject key, fencing loads in flight (a
// key read from the keystore before the call is not cached after it), so
// that the next use of every subject reads the keystore again. A server
// that shares its keystore with other servers calls it when another server
// reports an erasure: keys it had cached may have been destroyed.
func (k *Keyring) ForgetCached() {
	for i := range k.locks {
		k.locks[i].gen.Add(1)
	}
	k.cache.purge()
}

// ReloadKEK reads the wrapped KEK from the keystore and, when it differs
// from the one in use, unwraps it with the root key (one KMS call) and
// makes it the KEK: a server that shares its keystore picks up a version
// another server rotated in, or drops one it retired, without a restart.
// It reports whether the KEK changed. While a key operation of this
// Keyring runs (it is then the one changing the KEK) it does nothing.
func (k *Keyring) ReloadKEK() (bool, error) {
	if k.closed.Load() {
		return false, ErrClosed
	}
	if !k.life.TryLock() {
		return false, nil
	}
	defer k.life.Unlock()
	v, err := k.store.Get([][]byte{keyKEK})
	if err != nil {
		return false, fmt.Errorf("keys: read keystore: %w", err)
	}
	if v[0] == nil {
		return false, fmt.Errorf("%w: the shared keystore holds no KEK; restore it from backup", ErrKeystoreDamaged)
	}
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	if k.kekWrapped != nil && bytes.Equal(k.kekWrapped, v[0]) {
		return false, nil
	}
	kh, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(v[0])), k.root.aead, adKEK)
	if err != nil {
		return false, fmt.Errorf("%w at %s (%v); every server must use the same root key", ErrKEKUnwrap, k.root.uri, err)
	}
	cur := k.kekNow.load()
	if cur != nil && sameKeyset(cur.handle, kh) {
		k.kekWrapped = v[0]
		return false, nil
	}
	if err := k.setKEK(kh); err != nil {
		return false, fmt.Errorf("%w: the KEK keyset is not an AEAD keyset: %v", ErrKeystoreDamaged, err)
	}
	k.kekWrapped = v[0]
	return true, nil
}

// sameKeyset reports whether two KEK keysets hold the same versions with
// the same primary.
func sameKeyset(a, b *keyset.Handle) bool {
	ia, ib := a.KeysetInfo(), b.KeysetInfo()
	if ia.GetPrimaryKeyId() != ib.GetPrimaryKeyId() || len(ia.GetKeyInfo()) != len(ib.GetKeyInfo()) {
		return false
	}
	for i, ki := range ia.GetKeyInfo() {
		kj := ib.GetKeyInfo()[i]
		if ki.GetKeyId() != kj.GetKeyId() || ki.GetStatus() != kj.GetStatus() {
			return false
		}
	}
	return true
}

// unwrapFresh is unwrap that, when the stored key does not unwrap under the
// KEK in use, reloads the KEK once and tries again: on a shared keystore
// another server may have wrapped the key under a KEK version it rotated in
// moments ago.
func (k *Keyring) unwrapFresh(entity string, bi BlindIndex, id, wrapped []byte) (cachedKey, error) {
	c, err := k.unwrap(entity, bi, id, wrapped)
	if err == nil || !errors.Is(err, ErrSubjectUnwrap) || !k.shared.Load() {
		return c, err
	}
	if changed, rerr := k.ReloadKEK(); rerr != nil || !changed {
		return cachedKey{}, err
	}
	return k.unwrap(entity, bi, id, wrapped)
}

// SetShared tells the Keyring that other servers share its keystore: a
// subject key that does not unwrap then triggers one KEK reload first.
func (k *Keyring) SetShared(b bool) { k.shared.Store(b) }
