package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/featurevault/featurevault/internal/benchdata"
	"github.com/featurevault/featurevault/internal/loadgen"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// redisTarget is a plaintext Redis online store laid out the way Feast's
// Redis online store lays it out, read the way Feast reads it:
//
//   - one hash per entity, keyed by the serialized entity key followed by
//     the project name (Feast's _redis_key with serialize_entity_key);
//   - one hash field per feature, named by the 4-byte MurmurHash3 of
//     "view:feature" (Feast's _mmh3), holding the serialized Value proto;
//   - a field "_ts:view" holding the row's event time as a Timestamp proto;
//   - a read is HMGET of those 50 fields plus the timestamp, one per
//     entity, sent in one pipeline for a multi-entity read, and every value
//     is decoded from its proto bytes.
//
// Values are stored in the clear: this is what FeatureVault is compared
// against, not a way to run it.
type redisTarget struct {
	rdb      *redis.Client
	entities int
	fields   []string // hashed field names, then the timestamp field
}

const redisProject = "featurevault"

func newRedisTarget(addr string, poolSize, entities int) *redisTarget {
	rdb := redis.NewClient(&redis.Options{
		Addr:            addr,
		PoolSize:        poolSize + 4,
		DisableIdentity: true,
		// no client-side timeouts beyond the operation's context
		ContextTimeoutEnabled: true,
	})
	t := &redisTarget{rdb: rdb, entities: entities}
	for f := range benchdata.Fields {
		t.fields = append(t.fields, feastFieldName(benchdata.View, benchdata.FieldName(f)))
	}
	t.fields = append(t.fields, "_ts:"+benchdata.View)
	return t
}

func (t *redisTarget) Close() error { return t.rdb.Close() }

// feastFieldName is Feast's _mmh3(f"{view}:{feature}"): the unsigned
// 32-bit MurmurHash3 of the name, little-endian.
func feastFieldName(view, feature string) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], murmur3([]byte(view+":"+feature)))
	return string(b[:])
}

// murmur3 is MurmurHash3_x86_32 with seed 0.
func murmur3(data []byte) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	n := len(data)
	for i := 0; i+4 <= n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n) // #nosec G115 -- murmur3 mixes in the length modulo 2^32 by definition
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// redisKey is the key of entity i, shaped like Feast's: the entity key
// serialized (version 3: key count, then the join key's type, length and
// name, then the value's type, length and bytes, little-endian) followed by
// the project name.
func redisKey(i int) string {
	const joinKey, stringType = "user_id", 2
	v := benchdata.Key(i)
	b := make([]byte, 0, 64)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, stringType)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(joinKey)))
	b = append(b, joinKey...)
	b = binary.LittleEndian.AppendUint32(b, stringType)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v))) // #nosec G115 -- Redis bulk strings here are far below 4 GiB
	b = append(b, v...)
	return string(append(b, redisProject...))
}

// seededMarker records how many entities a Redis instance holds.
const seededMarker = "fvbench:seeded"

// seed writes every entity's hash (in pipelines of 500 entities) unless the
// marker says they are there. It returns the values written.
func (t *redisTarget) seed(ctx context.Context) (int64, time.Duration, error) {
	if n, err := t.rdb.Get(ctx, seededMarker).Int(); err == nil && n >= t.entities {
		return 0, 0, nil
	} else if err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, fmt.Errorf("redis: %w", err)
	}
	start := time.Now()
	ts, err := proto.Marshal(timestamppb.New(seedTime))
	if err != nil {
		return 0, 0, err
	}
	const batch = 500
	for lo := 0; lo < t.entities; lo += batch {
		pipe := t.rdb.Pipeline()
		for i := lo; i < min(lo+batch, t.entities); i++ {
			args := make([]any, 0, 2*len(t.fields))
			for f := range benchdata.Fields {
				v, err := proto.Marshal(&fvv1.Value{Kind: &fvv1.Value_Float64Value{Float64Value: seedValue(i, f)}})
				if err != nil {
					return 0, 0, err
				}
				args = append(args, t.fields[f], v)
			}
			args = append(args, t.fields[benchdata.Fields], ts)
			pipe.HSet(ctx, redisKey(i), args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, 0, fmt.Errorf("redis: seed entities %d..: %w", lo, err)
		}
	}
	if err := t.rdb.Set(ctx, seededMarker, strconv.Itoa(t.entities), 0).Err(); err != nil {
		return 0, 0, fmt.Errorf("redis: %w", err)
	}
	return int64(t.entities) * benchdata.Fields, time.Since(start), nil
}

// onlineOp reads n random entities × 50 features as Feast does, decoding
// and checking every value.
func (t *redisTarget) onlineOp(n int) loadgen.Op {
	return loadgen.Op{Name: onlineName(n), Do: func(ctx context.Context, w *loadgen.Worker) (int64, error) {
		_, idx := randomKeys(w, t.entities, n)
		if n == 1 {
			vals, err := t.rdb.HMGet(ctx, redisKey(idx[0]), t.fields...).Result()
			if err != nil {
				return 0, err
			}
			return benchdata.Fields, checkRedisRow(vals, idx[0])
		}
		pipe := t.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, n)
		for i, e := range idx {
			cmds[i] = pipe.HMGet(ctx, redisKey(e), t.fields...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, err
		}
		for i, c := range cmds {
			if err := checkRedisRow(c.Val(), idx[i]); err != nil {
				return 0, err
			}
		}
		return int64(n * benchdata.Fields), nil
	}}
}

// checkRedisRow decodes every value and the timestamp of one HMGET answer
// and checks the first and last feature.
func checkRedisRow(vals []any, entity int) error {
	if len(vals) != benchdata.Fields+1 {
		return fmt.Errorf("HMGET answered %d fields, want %d", len(vals), benchdata.Fields+1)
	}
	var v fvv1.Value
	for f := range benchdata.Fields {
		s, ok := vals[f].(string)
		if !ok {
			return fmt.Errorf("field %d is missing: is Redis seeded?", f)
		}
		if err := proto.Unmarshal([]byte(s), &v); err != nil {
			return fmt.Errorf("field %d: %w", f, err)
		}
		if (f == 0 || f == benchdata.Fields-1) && v.GetFloat64Value() != seedValue(entity, f) {
			return fmt.Errorf("field %d holds a wrong value", f)
		}
	}
	s, ok := vals[benchdata.Fields].(string)
	if !ok {
		return errors.New("the timestamp field is missing")
	}
	var ts timestamppb.Timestamp
	return proto.Unmarshal([]byte(s), &ts)
}
