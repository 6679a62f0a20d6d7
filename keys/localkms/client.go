package localkms

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// ErrRootMissing is returned by GetAEAD when the root keyset file does not exist.
var ErrRootMissing = errors.New("localkms: root keyset file not found")

// ErrRootCorrupt is returned by GetAEAD when the root keyset file is not a
// cleartext Tink AEAD keyset in JSON.
var ErrRootCorrupt = errors.New("localkms: root keyset file is not a valid Tink AEAD keyset (JSON)")

// Client implements registry.KMSClient for local:// URIs. It holds no state:
// each GetAEAD reads the file again, so callers get the AEAD once and keep it.
type Client struct{}

var _ registry.KMSClient = (*Client)(nil)

// NewClient returns a local KMS client.
func NewClient() *Client { return &Client{} }

// Supported reports whether uri is a local:// URI.
func (c *Client) Supported(uri string) bool { return strings.HasPrefix(uri, Prefix) }

// GetAEAD reads the root keyset file named by uri and returns its AEAD.
// Errors name the path, never key bytes or file contents: a missing file
// wraps ErrRootMissing, an unparsable one ErrRootCorrupt.
func (c *Client) GetAEAD(uri string) (tink.AEAD, error) {
	path, err := PathOf(uri)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator-configured local:// root key path
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrRootMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("localkms: read root keyset file: %w", err) // *fs.PathError names the path
	}
	// The parse error is dropped on purpose: a JSON syntax error can quote the
	// file's bytes, which are key material.
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrRootCorrupt, path)
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrRootCorrupt, path)
	}
	return a, nil
}
