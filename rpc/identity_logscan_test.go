package rpc_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	ed25519pb "github.com/tink-crypto/tink-go/v2/proto/ed25519_go_proto"
	"github.com/tink-crypto/tink-go/v2/signature"
	"google.golang.org/protobuf/proto"

	"github.com/featurevault/featurevault/identity"
	"github.com/featurevault/featurevault/internal/oidctest"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/telemetry"
)

// TestIdentityLogsMetricsAndAuditHoldNoTokensOrKeys runs a server logging
// everything (debug, JSON) with metrics, through OIDC calls that succeed
// and fail (valid, expired, forged with HS256, unsigned, unmapped), and
// signed checkpoints with a key rotation, then scans the log, every metric
// series and the audit log for the tokens (whole and by part), the admin
// token, the issuer's private key and the checkpoint keyset's private keys,
// in raw, hex and base64 forms. It must find none.
func TestIdentityLogsMetricsAndAuditHoldNoTokensOrKeys(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tel, err := telemetry.New()
	if err != nil {
		t.Fatal(err)
	}
	is := oidctest.New(t)
	v, err := identity.NewOIDC([]identity.Issuer{{URL: is.URL, Audience: "fv"}}, identity.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := openBackend(t, dir, log)
	s := serveBackend(t, dir, b, rpc.WithLogger(log), rpc.WithTelemetry(tel), rpc.WithOIDC(v))
	setUpTrainer(t, s, &fvv1.IdentityMapping{Source: "oidc", Issuer: is.URL, Claim: "sub", Value: "user-1", Principal: "trainer"})
	ctx := t.Context()

	good := is.Sign(t, is.Claims("user-1", "fv"))
	expired := is.Claims("user-1", "fv")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	tokens := []string{
		good,
		is.Sign(t, expired),
		is.SignHS256WithPublicKey(t, is.Claims("user-1", "fv")),
		is.Unsigned(t, is.Claims("user-1", "fv")),
		is.Sign(t, is.Claims("user-unmapped", "fv")),
	}
	for _, tok := range tokens {
		c := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, s.as(tok, "training"))
		_, _ = presentColumns(t, c)
	}
	if _, err := presentColumns(t, featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, s.url, s.as(good, "training"))); err != nil {
		t.Fatalf("the valid token was refused: %v", err)
	}
	cps := featurevaultv1connect.NewCheckpointServiceClient(http.DefaultClient, s.url, s.as(s.token, ""))
	for _, rotate := range []bool{false, true} {
		if _, err := cps.SignCheckpoint(ctx, connect.NewRequest(&fvv1.SignCheckpointRequest{RotateKey: rotate})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cps.GetCheckpointKeys(ctx, connect.NewRequest(&fvv1.GetCheckpointKeysRequest{})); err != nil {
		t.Fatal(err)
	}

	// The secrets: tokens and their parts, and private key material.
	secrets := map[string][]byte{"admin token": []byte(s.token)}
	for i, tok := range tokens {
		for j, part := range strings.Split(tok, ".") {
			if len(part) > 16 {
				secrets[fmt.Sprintf("token %d part %d", i, j)] = []byte(part)
			}
		}
	}
	secrets["issuer private key"] = is.SigningKey().PrivateBytes()
	h, err := b.Store.Keyring().NamedKeyset(rpc.CheckpointKeyset, signature.ED25519KeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	ks := insecurecleartextkeyset.KeysetMaterial(h)
	if len(ks.GetKey()) != 2 {
		t.Fatalf("the checkpoint keyset holds %d keys, want 2 after a rotation", len(ks.GetKey()))
	}
	for i, k := range ks.GetKey() {
		var priv ed25519pb.Ed25519PrivateKey
		if err := proto.Unmarshal(k.GetKeyData().GetValue(), &priv); err != nil || len(priv.GetKeyValue()) != 32 {
			t.Fatalf("checkpoint key %d is not an Ed25519 private key: %v", i, err)
		}
		secrets[fmt.Sprintf("checkpoint private key %d", i)] = priv.GetKeyValue()
	}

	var metrics strings.Builder
	for series := range gather(t, tel.Registry()) {
		metrics.WriteString(series + "\n")
	}
	places := map[string]string{"log": logs.String(), "metrics": metrics.String(), "audit log": auditExport(t, s)}
	if !strings.Contains(places["log"], "bootstrap admin") || !strings.Contains(places["audit log"], `"auth":"oidc `) {
		t.Fatalf("the log or the audit log misses what the calls must have written; the scan would prove less than it claims")
	}
	for where, text := range places {
		for name, secret := range secrets {
			for _, form := range [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(base64.StdEncoding.EncodeToString(secret)), []byte(base64.RawURLEncoding.EncodeToString(secret))} {
				if len(form) >= 16 && bytes.Contains([]byte(text), form) {
					t.Errorf("the %s holds the %s", where, name)
				}
			}
		}
	}
}
