package online

import "context"

// CrashAfterCommit makes every later commit of rows stop before its copy to
// Redis, as a process killed between the two would (tests only).
func CrashAfterCommit(t *Tier, on bool) { t.crashAfterCommit.Store(on) }

// ReadFromRedis reads keys' emails through t and says how many subjects
// Redis served and how many Redis errors the read met.
func ReadFromRedis(ctx context.Context, t *Tier, keys []string) (hits, redisErrors int, emails []any, err error) {
	var st readStats
	res, err := t.getOnline(ctx, "profile", keys, []string{"email"}, &st)
	if err != nil {
		return 0, 0, nil, err
	}
	for _, r := range res.Rows {
		emails = append(emails, r.Values[0])
	}
	return st.hits, st.redisErrors, emails, nil
}

// RedisKey is redisKey, for tests that reach into Redis.
var RedisKey = redisKey
