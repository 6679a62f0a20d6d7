package keys

import (
	"bytes"
	"fmt"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

// prefixNamed holds service keysets (the audit log's MAC key, the JWT
// signing key), each wrapped by the KEK with associated data
// "featurevault/keyset/v1" || lp(name).
var (
	prefixNamed = []byte("k/")
	adNamed     = []byte("featurevault/keyset/v1")
)

// NamedKeyset returns the service keyset called name, creating it from
// template on first use. It is wrapped by the KEK and bound to its name, so a
// wrapped keyset copied under another name does not unwrap. The handle stays
// inside Tink: callers build primitives from it (mac.New, jwt.NewSigner) and
// never see key bytes.
//
// Use it for keys that belong to the service, not to a subject: the audit
// log's MAC key, the JWT signing key. Concurrent first calls for one name
// return the same keyset.
func (k *Keyring) NamedKeyset(name string, template *tinkpb.KeyTemplate) (*keyset.Handle, error) {
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
		if old != nil {
			h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(old)), k.kek, ad)
			if err != nil {
				return nil, fmt.Errorf("%w: keyset %q does not unwrap with the KEK: %v", ErrKeystoreDamaged, name, err)
			}
			out = h
			return old, nil
		}
		h, err := keyset.NewHandle(template)
		if err != nil {
			return nil, fmt.Errorf("keys: create keyset %q: %w", name, err)
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
