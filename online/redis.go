package online

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrURL is returned for an --online URL that cannot be used.
var ErrURL = errors.New("online: bad Redis URL")

// ParseURL returns the seed addresses of redis://host:port[,host:port…].
// The cluster's other nodes are discovered from the seeds.
func ParseURL(raw string) ([]string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" || u.Host == "" {
		return nil, fmt.Errorf("%w: want redis://host:port[,host:port...], got a URL with scheme %q", ErrURL, schemeOf(raw))
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("%w: a cluster URL takes no database path or query; give only redis://host:port[,host:port...]", ErrURL)
	}
	var seeds []string
	for _, hp := range strings.Split(u.Host, ",") {
		if _, port, err := net.SplitHostPort(hp); err != nil || port == "" {
			return nil, fmt.Errorf("%w: seed %q is not host:port", ErrURL, hp)
		}
		seeds = append(seeds, hp)
	}
	return seeds, nil
}

func schemeOf(raw string) string {
	if i := strings.Index(raw, "://"); i > 0 {
		return raw[:i]
	}
	return ""
}

// NewClusterClient returns a Redis Cluster client for the seeds, with
// timeouts short enough that a dead node costs a read a few hundred
// milliseconds before it falls back to the store. Reads and writes go to
// primaries only: a replica may lag, and a lagging copy could be older
// than a row a writer was acknowledged.
func NewClusterClient(seeds []string) *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        seeds,
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond,
		MaxRetries:   2,
		PoolSize:     128,
	})
}

// setIfNewer stores ARGV[1] at KEYS[1] unless the value there is newer by
// its 16-byte (event time, created time) prefix; ARGV[3] = "1" also
// replaces an equal one (a sync from the store after a commit, which may
// have re-encrypted the row). ARGV[2] is the absolute expiry in unix ms, or
// "0" for none. Returns 1 when it wrote.
var setIfNewer = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old then
  local new = ARGV[1]
  local cmp = 0
  for i = 1, 16 do
    local a, b = string.byte(old, i), string.byte(new, i)
    if a == nil then a = -1 end
    if a ~= b then
      if b > a then cmp = 1 else cmp = -1 end
      break
    end
  end
  if cmp < 0 or (cmp == 0 and ARGV[3] ~= '1') then
    return 0
  end
end
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
`)
