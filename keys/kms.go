package keys

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
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

// rootKey is the KMS root as the keyring holds it: the AEAD (counting its
// calls), the URI it was had from and the client that gave it, so that a
// rotation can ask the KMS again.
type rootKey struct {
	aead   *countingAEAD
	uri    string
	client registry.KMSClient
}

// kmsCounters count the calls made to the KMS, by kind, for Stats. Encrypt
// wraps a KEK under the root key; decrypt unwraps one.
type kmsCounters struct {
	getAEAD, encrypt, decrypt atomic.Uint64
}

// total is the number of KMS calls of every kind.
func (c *kmsCounters) total() uint64 {
	return c.getAEAD.Load() + c.encrypt.Load() + c.decrypt.Load()
}

// rootAEAD gets the root AEAD from the KMS (one GetAEAD call) and wraps it to
// count the calls it makes and keep the last error.
func rootAEAD(c registry.KMSClient, uri string, calls *kmsCounters) (*countingAEAD, error) {
	calls.getAEAD.Add(1)
	a, err := c.GetAEAD(uri)
	switch {
	case errors.Is(err, localkms.ErrRootMissing):
		return nil, fmt.Errorf("%w: %w; the keystore holds a KEK wrapped by it, so restore that file from backup (a new root key cannot unwrap the existing KEK)", ErrRootUnavailable, err)
	case errors.Is(err, localkms.ErrRootCorrupt):
		return nil, fmt.Errorf("%w: %w; restore the file from backup", ErrRootUnavailable, err)
	case err != nil:
		return nil, fmt.Errorf("%w: KMS %s: %w", ErrRootUnavailable, uri, err)
	}
	return &countingAEAD{AEAD: a, calls: calls}, nil
}

// countingAEAD counts the calls made to a KMS AEAD, for Stats, and keeps
// the error of the last failed call: Tink reports a failed unwrap without
// saying whether the KMS refused the ciphertext or could not be reached.
type countingAEAD struct {
	tink.AEAD
	calls *kmsCounters
	mu    sync.Mutex
	last  error
}

func (c *countingAEAD) Encrypt(plaintext, ad []byte) ([]byte, error) {
	c.calls.encrypt.Add(1)
	ct, err := c.AEAD.Encrypt(plaintext, ad)
	c.note(err)
	return ct, err
}

func (c *countingAEAD) Decrypt(ciphertext, ad []byte) ([]byte, error) {
	c.calls.decrypt.Add(1)
	pt, err := c.AEAD.Decrypt(ciphertext, ad)
	c.note(err)
	return pt, err
}

func (c *countingAEAD) note(err error) {
	c.mu.Lock()
	c.last = err
	c.mu.Unlock()
}

// unreachable returns the last call's error when it says the KMS could not
// be reached or refused to serve (network error, or an error a KMS client
// marked with ErrRootUnavailable), else nil: then the KMS answered and the
// ciphertext simply is not its.
func (c *countingAEAD) unreachable() error {
	c.mu.Lock()
	err := c.last
	c.mu.Unlock()
	var ne net.Error
	var ue *url.Error
	if err != nil && (errors.Is(err, ErrRootUnavailable) || errors.As(err, &ne) || errors.As(err, &ue)) {
		return err
	}
	return nil
}
