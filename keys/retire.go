package keys

import (
	"context"
	"fmt"

	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// Retirement reports what RetireKEK did.
type Retirement struct {
	Version uint32
	// AlreadyRetired is true when the version had been retired before; the
	// call then only finished destroying older local root versions.
	AlreadyRetired bool
	// Root is the root rotation that followed (see below).
	Root RootRotation
}

// RetireKEK destroys version id of the KEK: it is deleted from the keyset,
// so every key it wrapped — in this keystore, in its backups, in Badger's
// old files — can no longer be unwrapped through this keyring. It refuses,
// changing nothing, with ErrVersionNotFound for an unknown version and
// ErrVersionInUse when id is the primary or still wraps any stored key (the
// error says how many: run Rewrap first).
//
// Deleting the version from the live keyset is not enough on its own: a
// backup of the keystore holds an older copy of the KEK keyset, with the
// version still in it, wrapped by the root. So RetireKEK then re-wraps the
// KEK under a new root version and, for the local:// KMS, destroys every
// older root version (RotateRoot with destroyPrevious). From then on no copy
// of anything the retired version wrapped can be decrypted: the shred
// horizon of every subject erased before is reached. With an external KMS
// the operator must also disable the KMS key's older versions (see
// docs/shred-horizon.md); the KEK is already re-encrypted under the current
// one.
//
// Retiring a version that was already retired is not an error: for the
// local:// KMS it finishes what an interrupted call began, re-wrapping the
// KEK under a new root version before destroying the older ones.
func (k *Keyring) RetireKEK(ctx context.Context, id uint32) (Retirement, error) {
	if err := k.beginLifecycle(ctx); err != nil {
		return Retirement{}, err
	}
	defer k.life.Unlock()
	out := Retirement{Version: id}
	st := k.kekNow.load()
	hist, err := k.loadMeta()
	if err != nil {
		return out, err
	}
	if !hasVersion(st.handle, id) {
		if _, ok := hist.retired(id); !ok {
			return out, fmt.Errorf("%w: version %d; `featurevault keys status` lists the versions", ErrVersionNotFound, id)
		}
		out.AlreadyRetired = true
		if _, err := localkms.PathOf(k.root.uri); err == nil {
			// Not a bare localkms.Prune: a crash between the root file's
			// rotation and the KEK's re-wrap leaves the KEK wrapped by a
			// version that is no longer primary, and pruning would destroy
			// it with every key of the keystore. rotateRoot re-wraps the
			// KEK and reads it back before it destroys anything.
			if out.Root, err = k.rotateRoot(true); err != nil {
				return out, fmt.Errorf("keys: destroy older local root versions: %w", err)
			}
		}
		return out, nil
	}
	if id == st.primary {
		return out, fmt.Errorf("%w: version %d is the primary; run `featurevault keys rotate`, then `keys rewrap`, then retire it", ErrVersionInUse, id)
	}
	// Wait out subject keys wrapped under this version before the rotation
	// that demoted it but not yet stored, so the census below sees them.
	k.awaitStripes()
	c, err := k.takeCensus(ctx)
	if err != nil {
		return out, err
	}
	if n, m := c.subjects[id], c.service[id]; n+m > 0 {
		return out, fmt.Errorf("%w: version %d still wraps %d subject keys and %d service keysets; run `featurevault keys rewrap`, then retire it again", ErrVersionInUse, id, n, m)
	}
	m := keyset.NewManagerFromHandle(st.handle)
	if err := m.Delete(id); err != nil {
		return out, fmt.Errorf("keys: delete KEK version %d: %w", id, err)
	}
	nh, err := m.Handle()
	if err != nil {
		return out, fmt.Errorf("keys: build the KEK keyset without version %d: %w", id, err)
	}
	hist.version(id).Retired = k.now().UTC()
	if err := k.storeKEK(nh, k.root.aead, hist); err != nil {
		return out, err
	}
	if err := k.setKEK(nh); err != nil {
		return out, fmt.Errorf("keys: KEK primitive: %w", err)
	}
	k.log.Info("keys: retired a KEK version", "version", id)
	if out.Root, err = k.rotateRoot(true); err != nil {
		return out, fmt.Errorf("keys: KEK version %d is retired in the live keystore, but re-wrapping the KEK under a new root version failed, so backups still hold it: run `featurevault keys rotate-root --destroy-previous`: %w", id, err)
	}
	return out, nil
}

func hasVersion(h *keyset.Handle, id uint32) bool {
	for _, ki := range h.KeysetInfo().GetKeyInfo() {
		if ki.GetKeyId() == id {
			return true
		}
	}
	return false
}
