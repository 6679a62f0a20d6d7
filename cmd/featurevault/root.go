package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// defaultServer is where client commands look for a server when neither
// --server nor FEATUREVAULT_SERVER says otherwise; it matches serve's
// default --listen.
const defaultServer = "http://127.0.0.1:8433"

// client holds what every client command shares: the server URL and the
// per-request deadline from the global flags, and one HTTP client.
//
// The commands speak the Connect protocol over plain HTTP/1.1 (or TLS when
// the URL is https), which every FeatureVault server accepts.
type client struct {
	server  string
	timeout time.Duration
	http    *http.Client
}

// newRootCmd builds the whole command tree. getenv supplies environment
// variables (os.Getenv in main), so tests control them.
func newRootCmd(getenv func(string) string) *cobra.Command {
	c := &client{http: &http.Client{}}
	root := &cobra.Command{
		Use:   "featurevault",
		Short: "An encrypted feature store: the server and its admin client",
		Long: `FeatureVault stores machine-learning features with every value encrypted
on its own under a per-subject key.

Start a server with "featurevault serve", then define entities and views
with "featurevault apply", write rows with "featurevault put" and read them
with "featurevault get".`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	server := getenv("FEATUREVAULT_SERVER")
	if server == "" {
		server = defaultServer
	}
	root.PersistentFlags().StringVar(&c.server, "server", server, "URL of the FeatureVault server for client commands (env FEATUREVAULT_SERVER)")
	root.PersistentFlags().DurationVar(&c.timeout, "timeout", 30*time.Second, "deadline of each request to the server; 0 for none")
	root.AddCommand(
		newServeCmd(),
		newApplyCmd(c),
		newPutCmd(c),
		newGetCmd(c),
		newViewsCmd(c),
	)
	return root
}

// baseURL checks --server and returns it without a trailing slash.
func (c *client) baseURL() (string, error) {
	u, err := url.Parse(c.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q is not a server URL; use one like %s", c.server, defaultServer)
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath(), nil
}

// admin returns an AdminService client for --server.
func (c *client) admin() (featurevaultv1connect.AdminServiceClient, error) {
	base, err := c.baseURL()
	if err != nil {
		return nil, err
	}
	return featurevaultv1connect.NewAdminServiceClient(c.http, base), nil
}

// features returns a FeatureService client for --server.
func (c *client) features() (featurevaultv1connect.FeatureServiceClient, error) {
	base, err := c.baseURL()
	if err != nil {
		return nil, err
	}
	return featurevaultv1connect.NewFeatureServiceClient(c.http, base), nil
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
