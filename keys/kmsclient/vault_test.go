package kmsclient_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/featurevault/featurevault/keys"
	"github.com/featurevault/featurevault/keys/kmsclient"
	"github.com/featurevault/featurevault/kv"
)

// No Vault or OpenBao server can be installed on the build machines (no
// Debian package), so fakeVault implements the documented contract of the
// transit secrets engine's encrypt and decrypt endpoints
// (https://developer.hashicorp.com/vault/api-docs/secret/transit):
//
//	POST /v1/:mount/encrypt/:name  {"plaintext": b64, "associated_data": b64}
//	  -> 200 {"data": {"ciphertext": "vault:vN:b64", "key_version": N}}
//	POST /v1/:mount/decrypt/:name  {"ciphertext": "vault:vN:b64", "associated_data": b64}
//	  -> 200 {"data": {"plaintext": b64}}
//
// with the X-Vault-Token header (403 {"errors": [...]} without a valid one),
// aes256-gcm96 keys that bind associated_data, key versions that rotate,
// and min_decryption_version refusing older ciphertexts with 400.
type fakeVault struct {
	mu       sync.Mutex
	token    string
	versions [][]byte // versions[i] is key version i+1
	minDec   int
	calls    []vaultCall
}

type vaultCall struct {
	Method, Path, Token string
	Body                map[string]string
}

func newFakeVault(t *testing.T, token string) (*fakeVault, *httptest.Server) {
	t.Helper()
	v := &fakeVault{token: token, minDec: 1}
	v.rotate()
	srv := httptest.NewServer(v)
	t.Cleanup(srv.Close)
	return v, srv
}

func (v *fakeVault) rotate() {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := make([]byte, 32)
	rand.Read(k)
	v.versions = append(v.versions, k)
}

func (v *fakeVault) setMinDecryptionVersion(n int) {
	v.mu.Lock()
	v.minDec = n
	v.mu.Unlock()
}

func (v *fakeVault) callsTo(op string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, c := range v.calls {
		if strings.Contains(c.Path, "/"+op+"/") {
			n++
		}
	}
	return n
}

func vaultError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string][]string{"errors": {msg}})
}

func (v *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := map[string]string{}
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, &body)
	v.mu.Lock()
	v.calls = append(v.calls, vaultCall{r.Method, r.URL.Path, r.Header.Get("X-Vault-Token"), body})
	v.mu.Unlock()
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		vaultError(w, http.StatusMethodNotAllowed, "unsupported operation")
		return
	}
	if r.Header.Get("X-Vault-Token") != v.token {
		vaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
	if len(parts) != 3 || parts[0] != "transit" || parts[2] != "featurevault" {
		vaultError(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	ad, err := base64.StdEncoding.DecodeString(body["associated_data"])
	if err != nil {
		vaultError(w, http.StatusBadRequest, "failed to base64-decode associated_data")
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch parts[1] {
	case "encrypt":
		pt, err := base64.StdEncoding.DecodeString(body["plaintext"])
		if err != nil {
			vaultError(w, http.StatusBadRequest, "failed to base64-decode plaintext")
			return
		}
		n := len(v.versions)
		g := gcm(v.versions[n-1])
		nonce := make([]byte, g.NonceSize())
		rand.Read(nonce)
		ct := g.Seal(nonce, nonce, pt, ad)
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"ciphertext": fmt.Sprintf("vault:v%d:%s", n, base64.StdEncoding.EncodeToString(ct)), "key_version": n,
		}})
	case "decrypt":
		f := strings.SplitN(body["ciphertext"], ":", 3)
		if len(f) != 3 || f[0] != "vault" || !strings.HasPrefix(f[1], "v") {
			vaultError(w, http.StatusBadRequest, "invalid ciphertext: no prefix")
			return
		}
		n, err := strconv.Atoi(f[1][1:])
		if err != nil || n < 1 || n > len(v.versions) {
			vaultError(w, http.StatusBadRequest, "invalid key version")
			return
		}
		if n < v.minDec {
			vaultError(w, http.StatusBadRequest, "ciphertext or signature version is disallowed by policy (too old)")
			return
		}
		raw, err := base64.StdEncoding.DecodeString(f[2])
		g := gcm(v.versions[n-1])
		if err != nil || len(raw) < g.NonceSize() {
			vaultError(w, http.StatusBadRequest, "invalid ciphertext")
			return
		}
		pt, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], ad)
		if err != nil {
			vaultError(w, http.StatusBadRequest, "cipher: message authentication failed")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}})
	default:
		vaultError(w, http.StatusNotFound, "unsupported path")
	}
}

func gcm(key []byte) cipher.AEAD {
	b, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(b)
	return g
}

// vaultEnv is the environment of a client of srv.
func vaultEnv(srv *httptest.Server, token string) func(string) string {
	env := map[string]string{"VAULT_ADDR": srv.URL, "VAULT_TOKEN": token, "VAULT_MAX_RETRIES": "0", "VAULT_CLIENT_TIMEOUT": "5s"}
	return func(k string) string { return env[k] }
}

func vaultURI(srv *httptest.Server) string {
	return "hcvault://" + strings.TrimPrefix(srv.URL, "http://") + "/transit/keys/featurevault"
}

func TestVaultClientSpeaksTheTransitContract(t *testing.T) {
	t.Parallel()
	v, srv := newFakeVault(t, "s.good")
	c, err := kmsclient.For(t.Context(), vaultURI(srv), vaultEnv(srv, "s.good"))
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	if !c.Supported(vaultURI(srv)) {
		t.Fatalf("the client does not support its own URI")
	}
	a, err := c.GetAEAD(vaultURI(srv))
	if err != nil {
		t.Fatalf("GetAEAD: %v", err)
	}
	ct, err := a.Encrypt([]byte("the KEK keyset"), []byte("featurevault/kek/v1"))
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if !strings.HasPrefix(string(ct), "vault:v1:") {
		t.Errorf("ciphertext %q does not carry Vault's version prefix vault:v1:", ct)
	}
	pt, err := a.Decrypt(ct, []byte("featurevault/kek/v1"))
	if err != nil || string(pt) != "the KEK keyset" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
	if _, err := a.Decrypt(ct, []byte("featurevault/other")); err == nil || errors.Is(err, keys.ErrRootUnavailable) {
		t.Errorf("Decrypt with other associated data: err %v; want a refusal that is not ErrRootUnavailable", err)
	}
	want := []vaultCall{
		{http.MethodPut, "/v1/transit/encrypt/featurevault", "s.good", map[string]string{
			"plaintext": base64.StdEncoding.EncodeToString([]byte("the KEK keyset")), "associated_data": base64.StdEncoding.EncodeToString([]byte("featurevault/kek/v1")),
		}},
		{http.MethodPut, "/v1/transit/decrypt/featurevault", "s.good", map[string]string{
			"ciphertext": string(ct), "associated_data": base64.StdEncoding.EncodeToString([]byte("featurevault/kek/v1")),
		}},
	}
	v.mu.Lock()
	got := v.calls[:2]
	v.mu.Unlock()
	for i := range want {
		g, w := got[i], want[i]
		if g.Method != w.Method || g.Path != w.Path || g.Token != w.Token || fmt.Sprint(g.Body) != fmt.Sprint(w.Body) {
			t.Errorf("request %d = %+v; want %+v", i, g, w)
		}
	}
}

// openVault opens a keyring on ks rooted in the fake Vault.
func openVault(t *testing.T, ks kv.Store, srv *httptest.Server, token string, create bool) (*keys.Keyring, error) {
	t.Helper()
	c, err := kmsclient.For(t.Context(), vaultURI(srv), vaultEnv(srv, token))
	if err != nil {
		t.Fatalf("For: %v", err)
	}
	o := keys.DefaultOptions().WithKMSURI(vaultURI(srv)).WithKMSClient(c).WithCreate(create).WithLogger(slog.New(slog.DiscardHandler))
	return keys.Open(t.Context(), ks, o)
}

func memStore(t *testing.T) kv.Store {
	t.Helper()
	s, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func entries(t *testing.T, s kv.Store) string {
	t.Helper()
	var b strings.Builder
	s.Scan(nil, func(e kv.Entry) error { fmt.Fprintf(&b, "%x=%x\n", e.Key, e.Value); return nil })
	return b.String()
}

func copyStore(t *testing.T, from kv.Store) kv.Store {
	t.Helper()
	to := memStore(t)
	from.Scan(nil, func(e kv.Entry) error { return to.Apply([]kv.Op{{Key: e.Key, Value: e.Value}}) })
	return to
}

func TestKeyringRootedInVaultCallsItOnlyAtOpenAndRotation(t *testing.T) {
	t.Parallel()
	v, srv := newFakeVault(t, "s.good")
	ks := memStore(t)
	k, err := openVault(t, ks, srv, "s.good", true)
	if err != nil {
		t.Fatalf("Open (create): %v", err)
	}
	bi, _ := k.BlindIndex("customer", "c-1")
	a, _, err := k.SubjectAEAD("customer", bi, true)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := a.Encrypt([]byte("41"), []byte("ad"))
	k.Close()
	if got := v.callsTo("encrypt"); got != 1 {
		t.Errorf("creating the hierarchy and a subject made %d Vault encrypt calls; want 1 (the KEK)", got)
	}
	k, err = openVault(t, ks, srv, "s.good", false)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer k.Close()
	a, _, err = k.SubjectAEAD("customer", bi, false)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := a.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "41" {
		t.Errorf("after reopen: %q, %v", pt, err)
	}
	if got := v.callsTo("decrypt"); got != 1 {
		t.Errorf("reopening and reading a subject made %d Vault decrypt calls; want 1 (the KEK)", got)
	}
}

func TestVaultDownOrRefusingAtStartSaysSoAndTouchesNothing(t *testing.T) {
	t.Parallel()
	_, srv := newFakeVault(t, "s.good")
	ks := memStore(t)
	k, err := openVault(t, ks, srv, "s.good", true)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	before := entries(t, ks)

	if _, err := openVault(t, ks, srv, "s.wrong", false); !errors.Is(err, keys.ErrRootUnavailable) || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "s.wrong") {
		t.Errorf("open with a refused token: err %v; want ErrRootUnavailable naming HTTP 403, never the token", err)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more
	_, err = openVault(t, ks, down, "s.good", false)
	if !errors.Is(err, keys.ErrRootUnavailable) || !strings.Contains(err.Error(), "could not be reached") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("open with the KMS down: err %v; want ErrRootUnavailable saying it could not be reached and nothing changed", err)
	}
	if after := entries(t, ks); after != before {
		t.Errorf("a failed open changed the keystore")
	}
	empty := memStore(t)
	if _, err := openVault(t, empty, down, "s.good", true); !errors.Is(err, keys.ErrRootUnavailable) {
		t.Errorf("first start with the KMS down: err %v; want ErrRootUnavailable", err)
	}
	if got := entries(t, empty); got != "" {
		t.Errorf("first start with the KMS down wrote to the keystore:\n%s", got)
	}
}

// TestVaultKeyRotationClosesTheShredHorizon shows the horizon with an
// external KMS: after the KMS key rotates, RotateRoot re-encrypts the KEK
// under the new version, and once the operator disallows the old version
// in Vault a keystore backup no longer opens.
func TestVaultKeyRotationClosesTheShredHorizon(t *testing.T) {
	t.Parallel()
	v, srv := newFakeVault(t, "s.good")
	ks := memStore(t)
	k, err := openVault(t, ks, srv, "s.good", true)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	backup := copyStore(t, ks)

	v.rotate() // vault write -f transit/keys/featurevault/rotate
	r, err := k.RotateRoot(t.Context(), true)
	if err != nil {
		t.Fatalf("RotateRoot: %v", err)
	}
	if r.Local || r.Version != "v2" || r.Destroyed != 0 {
		t.Errorf("RotateRoot = %+v; want the KEK under Vault key version v2, nothing destroyed locally", r)
	}
	st, _ := k.Status(t.Context())
	if st.RootVersion != "v2" {
		t.Errorf("Status.RootVersion = %q; want v2", st.RootVersion)
	}
	if k2, err := openVault(t, backup, srv, "s.good", false); err != nil {
		t.Errorf("the backup (KEK under v1) before v1 is disallowed: %v; want it to open", err)
	} else {
		k2.Close()
	}

	v.setMinDecryptionVersion(2) // vault write transit/keys/featurevault/config min_decryption_version=2
	if _, err := openVault(t, backup, srv, "s.good", false); !errors.Is(err, keys.ErrKEKUnwrap) {
		t.Errorf("the backup after v1 is disallowed: err %v; want ErrKEKUnwrap", err)
	}
	k3, err := openVault(t, ks, srv, "s.good", false)
	if err != nil {
		t.Fatalf("the live keystore after v1 is disallowed: %v", err)
	}
	k3.Close()
}

func TestForChoosesTheClientByURIAndExplainsBadConfiguration(t *testing.T) {
	t.Parallel()
	_, srv := newFakeVault(t, "s.good")
	host := strings.TrimPrefix(srv.URL, "http://")
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name, uri string
		env       map[string]string
		wantNil   bool
		wantErr   string
	}{
		{"local", "local:///var/lib/fv/root.json", nil, true, ""},
		{"default", "", nil, true, ""},
		{"vault", "hcvault://" + host + "/transit/keys/featurevault", map[string]string{"VAULT_TOKEN": "t", "VAULT_ADDR": srv.URL}, false, ""},
		{"vault without token", "hcvault://" + host + "/transit/keys/featurevault", nil, false, "VAULT_TOKEN is not set"},
		{"vault addr elsewhere", "hcvault://" + host + "/transit/keys/featurevault", map[string]string{"VAULT_TOKEN": "t", "VAULT_ADDR": "http://other:8200"}, false, "does not name the host"},
		{"vault path", "hcvault://" + host + "/transit/featurevault", map[string]string{"VAULT_TOKEN": "t"}, false, "MOUNT/keys/NAME"},
		{"aws not an ARN", "aws-kms://not-an-arn", nil, false, "arn:aws:kms:REGION"},
		{"unknown scheme", "azure-kv://vault/key", nil, false, `unsupported KMS URI scheme "azure-kv://"`},
	}
	for _, tt := range tests {
		c, err := kmsclient.For(context.Background(), tt.uri, env(tt.env))
		switch {
		case tt.wantErr != "":
			if !errors.Is(err, kmsclient.ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v; want ErrConfig saying %q", tt.name, err, tt.wantErr)
			}
			if err != nil && tt.env["VAULT_TOKEN"] != "" && strings.Contains(err.Error(), "VAULT_TOKEN="+tt.env["VAULT_TOKEN"]) {
				t.Errorf("%s: the error quotes the token", tt.name)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case (c == nil) != tt.wantNil:
			t.Errorf("%s: client %v; want nil %v", tt.name, c, tt.wantNil)
		}
	}
}
