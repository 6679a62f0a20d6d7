package localkms

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Prefix is the URI scheme of the local KMS.
const Prefix = "local://"

// PathOf returns the root keyset file path of a local:// URI. The path must be
// absolute, so that the URI means the same file whatever the working directory.
func PathOf(uri string) (string, error) {
	p, ok := strings.CutPrefix(uri, Prefix)
	if !ok || !filepath.IsAbs(p) {
		return "", fmt.Errorf("localkms: %q is not a local KMS URI; want local:// followed by an absolute path, e.g. local:///var/lib/featurevault/root.json", uri)
	}
	return filepath.Clean(p), nil
}
