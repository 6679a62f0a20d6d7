package keys

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// kmsClient returns the first client that supports the URI: those added with
// WithKMSClient, then the built-in local:// client.
func (o Options) kmsClient() (registry.KMSClient, error) {
	if o.kmsURI == "" {
		return nil, ErrNoKMSURI
	}
	if strings.HasPrefix(o.kmsURI, localkms.Prefix) {
		if _, err := localkms.PathOf(o.kmsURI); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
	}
	for _, c := range append(o.kmsClients, localkms.NewClient()) {
		if c.Supported(o.kmsURI) {
			return c, nil
		}
	}
	scheme, _, _ := strings.Cut(o.kmsURI, "://")
	return nil, fmt.Errorf("%w %q; supported: local:// (built in), and hcvault://, aws-kms://, gcp-kms:// once their Tink KMS client is added with Options.WithKMSClient", ErrUnsupportedKMS, scheme+"://")
}

// rootAEAD gets the root AEAD from the KMS (one GetAEAD call) and wraps it to
// count the calls it makes.
func rootAEAD(c registry.KMSClient, uri string, calls *atomic.Uint64) (tink.AEAD, error) {
	calls.Add(1)
	a, err := c.GetAEAD(uri)
	switch {
	case errors.Is(err, localkms.ErrRootMissing):
		return nil, fmt.Errorf("%w: %w; the keystore holds a KEK wrapped by it, so restore that file from backup (a new root key cannot unwrap the existing KEK)", ErrRootUnavailable, err)
	case errors.Is(err, localkms.ErrRootCorrupt):
		return nil, fmt.Errorf("%w: %w; restore the file from backup", ErrRootUnavailable, err)
	case err != nil:
		return nil, fmt.Errorf("%w: KMS %s: %w", ErrRootUnavailable, uri, err)
	}
	return countingAEAD{a, calls}, nil
}

// countingAEAD counts the calls made to a KMS AEAD, for Stats.
type countingAEAD struct {
	tink.AEAD
	calls *atomic.Uint64
}

func (c countingAEAD) Encrypt(plaintext, ad []byte) ([]byte, error) {
	c.calls.Add(1)
	return c.AEAD.Encrypt(plaintext, ad)
}

func (c countingAEAD) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	c.calls.Add(1)
	return c.AEAD.Decrypt(ciphertext, ad)
}
