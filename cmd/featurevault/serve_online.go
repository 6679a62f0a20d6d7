package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/online"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
	"github.com/featurevault/featurevault/telemetry"
)

// serveOnline holds serve's --online flag and the tier it opens.
type serveOnline struct {
	url  string
	tier *online.Tier
}

func (o *serveOnline) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.url, "online", "", "keep the encrypted latest row of every entity in Redis Cluster and serve online reads from it: redis://host:port[,host:port...] (seeds; the other nodes are discovered). Redis holds only ciphertext and blind indexes; when it is down, reads go to the store")
}

// storeOptions wraps the store's data KV with the tier's outbox when
// --online is given.
func (o *serveOnline) storeOptions(so store.Options, log *slog.Logger) (store.Options, error) {
	if o.url == "" {
		return so, nil
	}
	seeds, err := online.ParseURL(o.url)
	if err != nil {
		return so, err
	}
	// go-redis's own messages (a node that cannot be dialled, named by
	// address) go to the server's log at debug level instead of stderr;
	// the tier logs each outage and recovery itself.
	redis.SetLogger(redisLog{log})
	o.tier = online.New(online.NewClusterClient(seeds), log)
	return so.WithDataWrapper(o.tier.Wrap), nil
}

// attach binds the opened store to the tier (applying what a previous run
// left in the outbox) and returns the server options that route reads to
// it. Call close after the server stopped, before the store closes.
func (o *serveOnline) attach(ctx context.Context, st *store.Store, tel *telemetry.T, log *slog.Logger) ([]rpc.Option, func(), error) {
	if o.tier == nil {
		return nil, func() {}, nil
	}
	if err := o.tier.Attach(ctx, st); err != nil {
		return nil, nil, err
	}
	if tel != nil {
		for _, c := range o.tier.Collectors() {
			if err := tel.Registry().Register(c); err != nil {
				return nil, nil, err
			}
		}
	}
	log.Info("online tier on Redis Cluster", "seeds", len(mustSeeds(o.url)))
	return []rpc.Option{rpc.WithOnlineTier(o.tier)}, func() {
		if err := o.tier.Close(); err != nil {
			log.Warn("closing the online tier's Redis client failed", "error", err)
		}
	}, nil
}

func mustSeeds(url string) []string {
	s, _ := online.ParseURL(url)
	return s
}

// redisLog forwards go-redis's internal messages to slog.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
