package keys

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/protobuf/proto"
)

// kekState is one KEK keyset: its handle (kept to add or delete versions),
// its AEAD primitive and its primary version.
type kekState struct {
	handle  *keyset.Handle
	aead    tink.AEAD
	primary uint32
}

// currentKEK is the KEK as every wrap and unwrap sees it: a tink.AEAD whose
// keyset a rotation or retirement swaps atomically. Encrypt uses the
// primary version; Decrypt finds the version named by the ciphertext's
// Tink prefix, so keys wrapped by any version still in the keyset unwrap.
type currentKEK struct{ p atomic.Pointer[kekState] }

func (c *currentKEK) Encrypt(plaintext, ad []byte) ([]byte, error) {
	return c.p.Load().aead.Encrypt(plaintext, ad)
}

func (c *currentKEK) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	return c.p.Load().aead.Decrypt(ciphertext, ad)
}

func (c *currentKEK) load() *kekState { return c.p.Load() }

// setKEK makes kh the KEK.
func (k *Keyring) setKEK(kh *keyset.Handle) error {
	a, err := aead.New(kh)
	if err != nil {
		return err
	}
	k.kekNow.p.Store(&kekState{handle: kh, aead: a, primary: kh.KeysetInfo().GetPrimaryKeyId()})
	return nil
}

// KEKVersion is one version (Tink key ID) of the KEK.
type KEKVersion struct {
	ID      uint32
	Primary bool
	// Created is when the version was made; zero when unknown (a keystore
	// made before versions were dated).
	Created time.Time
}

// RotateKEK adds a fresh AES256-GCM version to the KEK keyset and makes it
// primary: every key wrapped from now on (new subjects, rewrap) names it.
// Keys wrapped by older versions keep unwrapping until those versions are
// retired; run Rewrap, then Retire, to finish the rotation. The new keyset is
// wrapped by the KMS root (one KMS call) and stored before it is used, so a
// failure leaves the old KEK in force and nothing changed.
//
// It returns ErrBusy while another key operation (rewrap, retire, root
// rotation) runs.
func (k *Keyring) RotateKEK(ctx context.Context) (KEKVersion, error) {
	if err := k.beginLifecycle(ctx); err != nil {
		return KEKVersion{}, err
	}
	defer k.life.Unlock()
	st := k.kekNow.load()
	m := keyset.NewManagerFromHandle(st.handle)
	id, err := m.Add(aead.AES256GCMKeyTemplate())
	if err != nil {
		return KEKVersion{}, fmt.Errorf("keys: add a KEK version: %w", err)
	}
	if err := m.SetPrimary(id); err != nil {
		return KEKVersion{}, fmt.Errorf("keys: make the new KEK version primary: %w", err)
	}
	nh, err := m.Handle()
	if err != nil {
		return KEKVersion{}, fmt.Errorf("keys: build the rotated KEK keyset: %w", err)
	}
	hist, err := k.loadMeta()
	if err != nil {
		return KEKVersion{}, err
	}
	now := k.now().UTC()
	hist.version(id).Created = now
	if err := k.storeKEK(nh, k.root.aead, hist); err != nil {
		return KEKVersion{}, err
	}
	if err := k.setKEK(nh); err != nil {
		return KEKVersion{}, fmt.Errorf("keys: KEK primitive: %w", err)
	}
	k.log.Info("keys: rotated the KEK; run a rewrap, then retire the previous version", "version", id, "previous", st.primary)
	return KEKVersion{ID: id, Primary: true, Created: now}, nil
}

// storeKEK wraps kh with root and stores it with the history hist, in one
// atomic write.
func (k *Keyring) storeKEK(kh *keyset.Handle, root tink.AEAD, hist *meta) error {
	wrapped, err := wrap(kh, root, adKEK)
	if err != nil {
		if cause := k.root.aead.unreachable(); cause != nil {
			return fmt.Errorf("%w: the KMS at %s could not be reached to wrap the KEK (%v); nothing was changed, try again when it is back", ErrRootUnavailable, k.root.uri, cause)
		}
		return fmt.Errorf("keys: wrap the KEK with the root key at %s: %w", k.root.uri, err)
	}
	mb, err := hist.encode()
	if err != nil {
		return err
	}
	if err := k.store.Apply([]kv.Op{{Key: keyKEK, Value: wrapped}, {Key: keyMeta, Value: mb}}); err != nil {
		return fmt.Errorf("keys: store the KEK: %w", err)
	}
	return nil
}

// RootRotation reports what RotateRoot did.
type RootRotation struct {
	// Local is true for the built-in local:// KMS, whose versions the
	// keyring manages itself.
	Local bool
	// Version names the root version that now wraps the KEK: for local://
	// and other Tink-prefixed roots the key ID in hex, for Vault transit
	// "vN"; empty when the KMS's ciphertext does not say.
	Version string
	// Destroyed counts the older local root versions destroyed.
	Destroyed int
}

// RotateRoot re-wraps the KEK under a new version of the root key.
//
// For the local:// KMS it first adds a version to the root file and makes it
// primary; with destroyPrevious it then destroys every older version, so
// that KEK copies wrapped by them (in keystore backups, or in Badger's old
// files) no longer unwrap with the file. For an external KMS (Vault transit,
// AWS KMS, Cloud KMS) the KMS rotates its own key: RotateRoot re-encrypts
// the KEK so that it is wrapped by the KMS's current version, after which
// the operator can disable or destroy the older versions in the KMS
// (destroyPrevious is then ignored: the keyring cannot destroy KMS keys).
//
// The KEK is stored under the new version and read back before anything is
// destroyed, so a failure at any step leaves a keystore that opens.
func (k *Keyring) RotateRoot(ctx context.Context, destroyPrevious bool) (RootRotation, error) {
	if err := k.beginLifecycle(ctx); err != nil {
		return RootRotation{}, err
	}
	defer k.life.Unlock()
	return k.rotateRoot(destroyPrevious)
}

// rotateRoot is RotateRoot with k.life held.
func (k *Keyring) rotateRoot(destroyPrevious bool) (RootRotation, error) {
	path, perr := localkms.PathOf(k.root.uri)
	local := perr == nil
	out := RootRotation{Local: local}
	if local {
		if _, err := localkms.Rotate(path); err != nil {
			return out, fmt.Errorf("keys: rotate the local root key: %w", err)
		}
	}
	root, err := rootAEAD(k.root.client, k.root.uri, &k.kmsCalls)
	if err != nil {
		return out, err
	}
	hist, err := k.loadMeta()
	if err != nil {
		return out, err
	}
	hist.RootRotated = k.now().UTC()
	st := k.kekNow.load()
	old := k.root
	k.root.aead = root // storeKEK reports reachability through k.root
	if err := k.storeKEK(st.handle, root, hist); err != nil {
		k.root = old
		return out, err
	}
	// Read the stored KEK back through the KMS before anything older is
	// destroyed: if this fails, the old versions are still there.
	v, err := k.store.Get([][]byte{keyKEK})
	if err != nil {
		return out, fmt.Errorf("keys: read back the KEK: %w", err)
	}
	if _, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(v[0])), root, adKEK); err != nil {
		return out, fmt.Errorf("keys: the KEK re-wrapped under the new root version does not unwrap (%v); older root versions were kept", err)
	}
	out.Version = rootVersion(v[0])
	if local && destroyPrevious {
		if out.Destroyed, err = localkms.Prune(path); err != nil {
			return out, fmt.Errorf("keys: destroy older local root versions (the KEK is already re-wrapped; run rotate-root again to finish): %w", err)
		}
	}
	k.log.Info("keys: re-wrapped the KEK under a new root version", "kms", scheme(k.root.uri), "version", out.Version, "destroyed", out.Destroyed)
	return out, nil
}

// beginLifecycle takes k.life, or says another key operation is running.
func (k *Keyring) beginLifecycle(ctx context.Context) error {
	if k.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !k.life.TryLock() {
		return ErrBusy
	}
	return nil
}

// wrappedBy returns the KEK version (Tink key ID) that wrapped a stored
// EncryptedKeyset, read from its ciphertext's Tink prefix (0x01 || be32 key
// ID) without decrypting anything.
func wrappedBy(stored []byte) (uint32, bool) {
	c, ok := encryptedPart(stored)
	if !ok || len(c) < 5 || c[0] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(c[1:5]), true
}

// encryptedPart returns the ciphertext field of a stored EncryptedKeyset.
func encryptedPart(stored []byte) ([]byte, bool) {
	var ek tinkpb.EncryptedKeyset
	if err := proto.Unmarshal(stored, &ek); err != nil {
		return nil, false
	}
	return ek.GetEncryptedKeyset(), true
}

// rootVersion names the root version that wrapped the stored KEK, when the
// KMS's ciphertext says: a Tink key ID in hex (local://), or Vault
// transit's "vN".
func rootVersion(stored []byte) string {
	c, ok := encryptedPart(stored)
	switch {
	case !ok:
		return ""
	case len(c) >= 5 && c[0] == 1:
		return fmt.Sprintf("%08x", binary.BigEndian.Uint32(c[1:5]))
	case bytes.HasPrefix(c, []byte("vault:v")):
		v, _, _ := strings.Cut(string(c[len("vault:"):min(len(c), 32)]), ":")
		return v
	}
	return ""
}

// scheme returns the scheme of a KMS URI, for logs.
func scheme(uri string) string {
	s, _, _ := strings.Cut(uri, "://")
	return s + "://"
}
