package kv_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/featurevault/featurevault/kv"
)

// seekStore holds a/1 … a/5 and b/1.
func seekStore(t *testing.T) *kv.Badger {
	t.Helper()
	db, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var ops []kv.Op
	for _, k := range []string{"a/1", "a/2", "a/3", "a/4", "a/5", "b/1"} {
		ops = append(ops, kv.Op{Key: []byte(k), Value: []byte("v" + k)})
	}
	if err := db.Apply(ops); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSeekStartsSkipsAndStops(t *testing.T) {
	t.Parallel()
	db := seekStore(t)
	tests := []struct {
		name   string
		prefix string
		start  string
		steer  func(key string) ([]byte, error)
		want   []string
	}{
		{"whole prefix", "a/", "", nil, []string{"a/1", "a/2", "a/3", "a/4", "a/5"}},
		{"start mid-prefix", "a/", "a/3", nil, []string{"a/3", "a/4", "a/5"}},
		{"start between keys", "a/", "a/25", nil, []string{"a/3", "a/4", "a/5"}},
		{"start before prefix", "b/", "a/", nil, []string{"b/1"}},
		{"start after prefix", "a/", "a/9", nil, nil},
		{"skip ahead", "a/", "", func(k string) ([]byte, error) {
			if k == "a/1" {
				return []byte("a/4"), nil
			}
			return nil, nil
		}, []string{"a/1", "a/4", "a/5"}},
		{"skip past the prefix ends the walk", "a/", "", func(k string) ([]byte, error) {
			return []byte("a0"), nil
		}, []string{"a/1"}},
		{"SkipAll stops", "a/", "", func(k string) ([]byte, error) {
			if k == "a/2" {
				return nil, kv.SkipAll
			}
			return nil, nil
		}, []string{"a/1", "a/2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			err := db.Seek([]byte(tt.prefix), []byte(tt.start), func(e kv.Entry) ([]byte, error) {
				if string(e.Value) != "v"+string(e.Key) {
					t.Errorf("value of %s = %q, want %q", e.Key, e.Value, "v"+string(e.Key))
				}
				got = append(got, string(e.Key))
				if tt.steer == nil {
					return nil, nil
				}
				return tt.steer(string(e.Key))
			})
			if err != nil {
				t.Fatalf("Seek: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Seek(%q, %q) visited %v, want %v", tt.prefix, tt.start, got, tt.want)
			}
		})
	}
}

func TestSeekReturnsCallbackErrorUnchanged(t *testing.T) {
	t.Parallel()
	db := seekStore(t)
	boom := errors.New("boom")
	err := db.Seek([]byte("a/"), nil, func(kv.Entry) ([]byte, error) { return nil, boom })
	if err != boom {
		t.Errorf("Seek returned %v, want the callback's error itself", err)
	}
}
