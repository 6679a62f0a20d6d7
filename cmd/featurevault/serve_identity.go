package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/rpc"
)

// Defaults of serve's audit checkpoint flags.
const (
	defaultCheckpointInterval = 5 * time.Minute
	defaultCheckpointEvery    = 10_000
)

// serveIdentity holds the flags of serve that trust identities from
// outside (OIDC issuers) and sign audit checkpoints.
type serveIdentity struct {
	oidcIssuers        []string
	oidcAudiences      []string
	oidcClockSkew      time.Duration
	checkpointInterval time.Duration
	checkpointEvery    uint64
	checkpointSink     string
}

func (s *serveIdentity) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&s.oidcIssuers, "oidc-issuer", nil, "trust JWTs from this OpenID Connect issuer URL (https; exactly its tokens' iss), paired with the --oidc-audience of the same position; repeat for more issuers. Map their claims to principals with `featurevault principal map-oidc`")
	f.StringArrayVar(&s.oidcAudiences, "oidc-audience", nil, "the audience (aud) tokens of the --oidc-issuer at the same position must carry for this server")
	f.DurationVar(&s.oidcClockSkew, "oidc-clock-skew", identity.DefaultClockSkew, "tolerance on the exp, nbf and iat of OIDC tokens (at most 5m)")
	f.DurationVar(&s.checkpointInterval, "audit-checkpoint-interval", defaultCheckpointInterval, "sign an audit checkpoint this often when records were appended since the last (0: not by time)")
	f.Uint64Var(&s.checkpointEvery, "audit-checkpoint-every", defaultCheckpointEvery, "sign an audit checkpoint whenever this many records were appended since the last (0: not by count)")
	f.StringVar(&s.checkpointSink, "audit-checkpoint-sink", "", "append every signed audit checkpoint to this file as a JSON line (put it where the server's operators cannot rewrite it)")
}

// options checks the flags and returns the server options they make.
func (s *serveIdentity) options() ([]rpc.Option, error) {
	if s.checkpointInterval < 0 || s.checkpointInterval > 0 && s.checkpointInterval < time.Second {
		return nil, fmt.Errorf("--audit-checkpoint-interval %s: give at least 1s (e.g. 5m), or 0", s.checkpointInterval)
	}
	opts := []rpc.Option{rpc.WithAuditCheckpoints(s.checkpointInterval, s.checkpointEvery, s.checkpointSink)}
	if len(s.oidcIssuers) != len(s.oidcAudiences) {
		return nil, fmt.Errorf("%d --oidc-issuer but %d --oidc-audience: give one audience per issuer, in the same order", len(s.oidcIssuers), len(s.oidcAudiences))
	}
	if len(s.oidcIssuers) == 0 {
		return opts, nil
	}
	issuers := make([]identity.Issuer, len(s.oidcIssuers))
	for i := range issuers {
		issuers[i] = identity.Issuer{URL: s.oidcIssuers[i], Audience: s.oidcAudiences[i]}
	}
	v, err := identity.NewOIDC(issuers, identity.DefaultOptions().WithClockSkew(s.oidcClockSkew))
	if err != nil {
		return nil, fmt.Errorf("--oidc-issuer: %w", err)
	}
	return append(opts, rpc.WithOIDC(v)), nil
}
