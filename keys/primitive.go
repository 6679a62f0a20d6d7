package keys

import (
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/aesgcm"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// subjectPrimitive builds the AEAD of a subject keyset. A subject keyset
// almost always holds one AES-256-GCM key with no output prefix; its
// primitive is then built straight from that key (aesgcm.NewAEAD), which
// skips the keyset wrapper's per-ciphertext prefix lookup — about a third
// of the cost of decrypting a small value (BENCHMARKS.md, issue 7). The
// key stays inside Tink's key object: no key bytes pass through here. Any
// other keyset (several keys while a subject key rotates, another key
// type) goes through aead.New as usual.
func subjectPrimitive(h *keyset.Handle) (tink.AEAD, error) {
	if h.Len() == 1 {
		if e, err := h.Primary(); err == nil {
			if k, ok := e.Key().(*aesgcm.Key); ok && len(k.OutputPrefix()) == 0 {
				return aesgcm.NewAEAD(k)
			}
		}
	}
	return aead.New(h)
}
