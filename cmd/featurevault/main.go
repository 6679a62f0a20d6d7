// Command featurevault runs the FeatureVault server and talks to it.
//
// The server:
//
//	featurevault serve [--data DIR] [--listen ADDR] [--kms URI] [--tls-cert F --tls-key F]
//
// opens (or on first start creates) an encrypted store in DIR and serves
// Connect, gRPC and gRPC-Web on one port until SIGINT or SIGTERM, then
// shuts down gracefully. A second signal stops it at once.
//
// The client commands are thin clients of the AdminService and the
// FeatureService; they reach the server named by --server (env
// FEATUREVAULT_SERVER, default http://127.0.0.1:8433) and authenticate
// with --token (env FEATUREVAULT_TOKEN; by default the bootstrap admin
// token a local server wrote to --data DIR/admin.token). Data commands
// state their purpose with --purpose (env FEATUREVAULT_PURPOSE):
//
//	featurevault apply -f spec.yaml                     create or update entities and views
//	featurevault put --view V -f rows.jsonl             write rows given as JSON lines
//	featurevault get --view V --entity K [-o json]      read the latest values of entities
//	featurevault views list | views get NAME            show the registry
//	featurevault principal create|list|revoke           principals and their bearer tokens
//	featurevault token issue PRINCIPAL --ttl 1h         a short-lived JWT
//	featurevault role assign|unassign PRINCIPAL ROLE    roles, and roles inheriting roles
//	featurevault policy grant|revoke|list|explain       column access rules
//	featurevault audit tail|verify|export               the hash-chained audit log
//	featurevault keys status|rotate|rewrap|retire       the key lifecycle (and rotate-root, rotate-subject)
//	featurevault erase --entity E --key K [--suppress]  crypto-shred data subjects (--file for many)
//	featurevault subject export|restrict|unrestrict     data subjects' access and opt-out requests
//
// Errors are printed as "featurevault: <message>" on standard error and
// the exit status is 1.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling so that a second
	// one stops a server whose graceful shutdown is taking too long.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit status.
// Everything the command touches is passed in, so tests run it in process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(getenv)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "featurevault: %s\n", err)
		return 1
	}
	return 0
}
