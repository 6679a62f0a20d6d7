package online

import (
	"context"
	"time"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/store"
)

// materializeBatch is how many rows go to Redis in one pipeline.
const materializeBatch = 256

// Materialize copies the latest row of every subject of view whose event
// time is at or after since (zero: all) from the store to Redis, never
// replacing a newer row there, and calls progress with the running count
// after each batch. It returns the number of subjects copied (expired rows
// are skipped). Use it after --online is first turned on, after a restore,
// or after Redis lost data.
func (t *Tier) Materialize(ctx context.Context, view string, since time.Time, progress func(done int)) (int, error) {
	st := t.st.Load()
	v, err := st.View(view)
	if err != nil {
		return 0, err
	}
	done := 0
	var bis []keys.BlindIndex
	var rows []store.TierRow
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		pipe := t.rc.Pipeline()
		now := time.Now()
		n := 0
		for i, r := range rows {
			if px, ok := expiry(&v, r, now); ok {
				setIfNewer.Eval(ctx, pipe, []string{redisKey(v.ID, bis[i])}, encodeValue(r), px, "0")
				n++
			}
		}
		if n > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.redisFailed("write", err)
				return err
			}
		}
		done += n
		bis, rows = bis[:0], rows[:0]
		if progress != nil {
			progress(done)
		}
		return nil
	}
	err = st.ScanLatest(ctx, view, since, func(bi keys.BlindIndex, r store.TierRow) error {
		bis = append(bis, bi)
		rows = append(rows, r)
		if len(rows) == materializeBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return done, err
}
