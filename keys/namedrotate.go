package keys

import (
	"bytes"
	"fmt"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

// RotateNamedKeyset adds a new key made from template to the service
// keyset called name and makes it the primary, keeping every earlier key
// (so what they signed or MACed still verifies), and stores the keyset
// wrapped by the current KEK. It creates the keyset when there is none.
// It returns the rotated handle; callers rebuild their primitives from it.
//
// Use it for the audit checkpoint signing key (Ed25519): public keysets
// exported after a rotation hold the old and the new public keys.
func (k *Keyring) RotateNamedKeyset(name string, template *tinkpb.KeyTemplate) (*keyset.Handle, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty keyset name", ErrInvalidArgument)
	}
	key := append(bytes.Clone(prefixNamed), name...)
	ad := appendLP(bytes.Clone(adNamed), name)
	var out *keyset.Handle
	err := kv.Update(k.store, key, func(old []byte) ([]byte, error) {
		var m *keyset.Manager
		if old == nil {
			m = keyset.NewManager()
		} else {
			h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(old)), k.kek, ad)
			if err != nil {
				return nil, fmt.Errorf("%w: keyset %q does not unwrap with the KEK: %v", ErrKeystoreDamaged, name, err)
			}
			m = keyset.NewManagerFromHandle(h)
		}
		id, err := m.Add(template)
		if err != nil {
			return nil, fmt.Errorf("keys: add a key to keyset %q: %w", name, err)
		}
		if err := m.SetPrimary(id); err != nil {
			return nil, fmt.Errorf("keys: make key %d primary in keyset %q: %w", id, name, err)
		}
		h, err := m.Handle()
		if err != nil {
			return nil, fmt.Errorf("keys: keyset %q: %w", name, err)
		}
		w, err := wrap(h, k.kek, ad)
		if err != nil {
			return nil, fmt.Errorf("keys: wrap keyset %q: %w", name, err)
		}
		out = h
		return w, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
