package rpc_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/featurevault/featurevault/keys"
)

// TestWarmSubjectKeysFillsTheCacheOfARestartedServer: a backend opened
// again on a store with subject keys starts with an empty cache, and
// WarmSubjectKeys (which both servers run after they open the backend)
// caches every key and logs how many, counts only.
func TestWarmSubjectKeysFillsTheCacheOfARestartedServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := openBackend(t, dir, quietLog)
	kr := b.Store.Keyring()
	bis := make([]keys.BlindIndex, 25)
	for i := range bis {
		bi, err := kr.BlindIndex("customer", fmt.Sprint("c-", i))
		if err != nil {
			t.Fatal(err)
		}
		bis[i] = bi
	}
	if _, _, err := kr.SubjectAEADs("customer", bis, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	b = openBackend(t, dir, log)
	defer b.Close()
	if n := b.Store.Keyring().Stats().CacheSize; n != 0 {
		t.Fatalf("a reopened backend caches %d subject keys before warming", n)
	}
	b.WarmSubjectKeys(t.Context(), log)
	if n := b.Store.Keyring().Stats().CacheSize; n != len(bis) {
		t.Errorf("after WarmSubjectKeys the cache holds %d keys; want %d", n, len(bis))
	}
	if !strings.Contains(logs.String(), fmt.Sprintf(`msg="subject key cache warmed" keys=%d`, len(bis))) {
		t.Errorf("no log line of the warm-up with its count; logs:\n%s", logs.String())
	}
}
