package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// maxTokenBytes bounds a token read from a flag, the environment or a file;
// opaque tokens are 47 bytes and JWTs a few hundred.
const maxTokenBytes = 8 << 10

// credential returns the bearer token of client commands: --token, else
// FEATUREVAULT_TOKEN, else the bootstrap admin token a local server wrote
// to --data DIR/admin.token. It records where the token came from for
// messages.
//
// The token itself never appears in an error, a log line or any output:
// messages name only its source.
func (c *client) credential() (string, error) {
	switch {
	case c.token != "":
		return c.useToken(c.token, "--token")
	case c.getenv(envToken) != "":
		return c.useToken(c.getenv(envToken), envToken)
	}
	path := filepath.Join(c.data, rpc.AdminTokenFile)
	f, err := os.Open(path) // #nosec G304 -- the token file the operator named (flag or environment)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no token: pass --token or set %s (the token \"featurevault principal create\" printed); "+
			"beside a local server, --data names its data directory, whose admin.token is used (%s does not exist)", envToken, path)
	}
	if err != nil {
		return "", fmt.Errorf("no token in --token or %s, and the bootstrap admin token cannot be read: %w", envToken, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("read the bootstrap admin token in %s: %w", path, err)
	}
	return c.useToken(string(data), path)
}

// useToken checks a token's form (not its validity: the server decides
// that) and remembers its source.
func (c *client) useToken(token, source string) (string, error) {
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return "", fmt.Errorf("the token from %s is empty; give the token \"featurevault principal create\" or \"token issue\" printed", source)
	case len(token) > maxTokenBytes:
		return "", fmt.Errorf("the token from %s is longer than %d bytes; is it a FeatureVault token?", source, maxTokenBytes)
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		// An HTTP header cannot carry it, and it is certainly not a token
		// the server issued; say so without echoing it.
		return "", fmt.Errorf("the token from %s contains spaces or control characters; copy it again as printed", source)
	}
	c.tokenSource = source
	return token, nil
}

// dataPurpose returns the purpose of data requests: --purpose, else
// FEATUREVAULT_PURPOSE. It must be a plain name: the server checks it
// against the principal's purpose attribute and the policy's rules.
func (c *client) dataPurpose() (string, error) {
	purpose, source := c.purpose, "--purpose"
	if purpose == "" {
		purpose, source = c.getenv(envPurpose), envPurpose
	}
	if purpose == "" {
		return "", fmt.Errorf("a data request must state its purpose: pass --purpose or set %s (for example --purpose training); "+
			"the principal's purpose attribute lists the purposes it may claim", envPurpose)
	}
	if err := store.ValidateName("purpose", purpose); err != nil {
		return "", fmt.Errorf("%s: %s", source, strings.TrimPrefix(err.Error(), "store: "))
	}
	return purpose, nil
}
