package rpc

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// WarmSubjectKeys fills the subject key cache from the keystore
// (keys.Keyring.Warm) and logs how many keys it cached and how long it
// took; counts only. Servers run it in the background right after they
// open the backend: until it is done, a read of a subject not yet cached
// loads the key itself, as it always has, so serving need not wait.
func (b *Backend) WarmSubjectKeys(ctx context.Context, log *slog.Logger) {
	start := time.Now()
	n, err := b.Store.Keyring().Warm(ctx)
	switch {
	case err == nil:
		log.Info("subject key cache warmed", "keys", n, "elapsed", time.Since(start).Round(time.Millisecond))
	case errors.Is(err, context.Canceled):
	default:
		log.Warn("warming the subject key cache stopped; reads load the remaining keys as they need them", "keys", n, "error", err)
	}
}
