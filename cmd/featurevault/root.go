package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	fvclient "github.com/featurevault/featurevault/client"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// defaultServer is where client commands look for a server when neither
// --server nor FEATUREVAULT_SERVER says otherwise; it matches serve's
// default --listen.
const defaultServer = "http://127.0.0.1:8433"

// defaultDataDir is the data directory of serve, and where client commands
// look for the bootstrap admin token of a local server; they match.
const defaultDataDir = "./featurevault-data"

// Environment variables of the client commands.
const (
	envServer  = "FEATUREVAULT_SERVER"
	envToken   = "FEATUREVAULT_TOKEN"
	envPurpose = "FEATUREVAULT_PURPOSE"
)

// client holds what every client command shares: the server URL, the
// per-request deadline, the credential and the purpose from the global
// flags, and one HTTP client.
//
// The commands speak the Connect protocol over plain HTTP/1.1 (or TLS when
// the URL is https), which every FeatureVault server accepts. Every call
// carries the bearer token (see credential); FeatureService calls also
// carry the purpose and, when a command asks for it, strict mode (see
// features).
type client struct {
	server  string
	timeout time.Duration
	token   string // --token; never printed
	data    string // --data: where admin.token is looked for
	purpose string // --purpose
	// strict is set by the --strict flag of commands that read columns:
	// the server then fails the whole request if any column is denied.
	strict bool
	getenv func(string) string
	http   *http.Client
	tls    clientTLS // --tls-ca, --tls-client-cert, --tls-client-key (clienttls.go)

	// tokenSource says where the token in use came from ("--token",
	// "FEATUREVAULT_TOKEN" or the admin.token path), for messages.
	tokenSource string
}

// newRootCmd builds the whole command tree. getenv supplies environment
// variables (os.Getenv in main), so tests control them.
func newRootCmd(getenv func(string) string) *cobra.Command {
	c := &client{http: &http.Client{}, getenv: getenv}
	root := &cobra.Command{
		Use:   "featurevault",
		Short: "An encrypted feature store: the server and its admin client",
		Long: `FeatureVault stores machine-learning features with every value encrypted
on its own under a per-subject key.

Start a server with "featurevault serve", then define entities and views
with "featurevault apply", write rows with "featurevault put" and read them
with "featurevault get". Principals, roles and policies decide who may read
or write which column, for which purpose ("featurevault principal",
"role", "policy"); every access is in a hash-chained audit log
("featurevault audit").

Client commands authenticate with a bearer token: --token, else
FEATUREVAULT_TOKEN, else the bootstrap admin token that a local server
wrote to DIR/admin.token (--data DIR, default ./featurevault-data).
Data commands (get, put) state their purpose with --purpose or
FEATUREVAULT_PURPOSE.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	server := getenv(envServer)
	if server == "" {
		server = defaultServer
	}
	pf := root.PersistentFlags()
	pf.StringVar(&c.server, "server", server, "URL of the FeatureVault server for client commands (env "+envServer+")")
	pf.DurationVar(&c.timeout, "timeout", 30*time.Second, "deadline of each request to the server; 0 for none")
	// The token's default is not taken from the environment here, so that
	// --help never prints it; credential reads the environment.
	pf.StringVar(&c.token, "token", "", "bearer token of client commands (env "+envToken+"; default: the bootstrap admin token in --data DIR/admin.token)")
	pf.StringVar(&c.data, "data", defaultDataDir, "data directory of a local server, whose admin.token client commands use when no token is given")
	pf.StringVar(&c.purpose, "purpose", "", "purpose of data requests such as get and put, e.g. training (env "+envPurpose+")")
	pf.StringVar(&c.tls.ca, "tls-ca", "", "PEM bundle of the CA (or the self-signed certificate, DIR/tls/cert.pem) an https:// server's certificate must chain to (default: the system's roots)")
	pf.StringVar(&c.tls.clientCert, "tls-client-cert", "", "PEM client certificate presented to a server started with --tls-client-ca (with --tls-client-key)")
	pf.StringVar(&c.tls.clientKey, "tls-client-key", "", "PEM private key of --tls-client-cert")
	root.AddCommand(
		newServeCmd(getenv),
		newApplyCmd(c),
		newPutCmd(c),
		newGetCmd(c),
		newViewsCmd(c),
		newIngestCmd(c),
		newExportCmd(c),
		newPrincipalCmd(c),
		newTokenCmd(c),
		newRoleCmd(c),
		newPolicyCmd(c),
		newAuditCmd(c),
		newKeysCmd(c),
		newEraseCmd(c),
		newSubjectCmd(c),
		newQueryCmd(c),
		newBudgetCmd(c),
		newBackupCmd(c),
		newRestoreCmd(),
		newMigrateCmd(),
		newMaterializeCmd(c),
		newOnlineCmd(c),
	)
	return root
}

// adminClient is the AdminService client the commands use.
type adminClient = featurevaultv1connect.AdminServiceClient

// baseURL checks --server (and the TLS flags against its scheme) and
// returns it without a trailing slash.
func (c *client) baseURL() (string, error) {
	u, err := url.Parse(c.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q is not a server URL; use one like %s", c.server, defaultServer)
	}
	if err := c.configureTLS(u.Scheme); err != nil {
		return "", err
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath(), nil
}

// admin returns an AdminService client for --server that sends the bearer
// token with every call. Admin calls state no purpose: the server decides
// them for the purpose "administration".
func (c *client) admin() (featurevaultv1connect.AdminServiceClient, error) {
	base, opts, err := c.connect(false)
	if err != nil {
		return nil, err
	}
	return featurevaultv1connect.NewAdminServiceClient(c.http, base, opts...), nil
}

// features returns a FeatureService client for --server that sends the
// bearer token, the purpose and, with --strict, strict mode with every
// call, unary and streaming alike. It refuses to build one without a
// purpose: every data request must state one.
func (c *client) features() (featurevaultv1connect.FeatureServiceClient, error) {
	base, opts, err := c.connect(true)
	if err != nil {
		return nil, err
	}
	return featurevaultv1connect.NewFeatureServiceClient(c.http, base, opts...), nil
}

// connect checks --server and the credential (and, for data requests, the
// purpose) and returns the base URL and the client options that send them
// as headers. Every client command builds its Connect clients through
// here, so none can forget a header.
func (c *client) connect(data bool) (string, []connect.ClientOption, error) {
	base, err := c.baseURL()
	if err != nil {
		return "", nil, err
	}
	h, err := c.headers(data)
	if err != nil {
		return "", nil, err
	}
	return base, []connect.ClientOption{connect.WithInterceptors(fvclient.HeaderInterceptor(h))}, nil
}

// headers returns the request headers of a call: the bearer token, and for
// a data request the purpose and strict mode.
func (c *client) headers(data bool) (http.Header, error) {
	token, err := c.credential()
	if err != nil {
		return nil, err
	}
	if !data {
		return fvclient.Headers(token, "", false), nil
	}
	purpose, err := c.dataPurpose()
	if err != nil {
		return nil, err
	}
	return fvclient.Headers(token, purpose, c.strict), nil
}

// call sends one request with method under the --timeout deadline and
// turns a Connect error into one a person can act on.
func call[Req, Res any](ctx context.Context, c *client, method func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *Req) (*Res, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	res, err := method(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, c.explain(err)
	}
	return res.Msg, nil
}
