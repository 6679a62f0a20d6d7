package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"
	"github.com/tink-crypto/tink-go/v2/signature"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
)

// Sign a checkpoint, export the log with it, and verify the export as an
// auditor does: with the public keyset only. In the server the signing
// keyset comes from keys.Keyring.NamedKeyset("audit-checkpoint",
// signature.ED25519KeyTemplate()).
func ExampleVerifyExport() {
	ctx := context.Background()
	store, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	mh, err := keyset.NewHandle(mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		panic(err)
	}
	m, err := mac.New(mh)
	if err != nil {
		panic(err)
	}
	clock := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	log, err := audit.Open(store, m, audit.DefaultOptions().WithClock(clock))
	if err != nil {
		panic(err)
	}
	for _, who := range []string{"alice", "bob", "carol"} {
		if _, err := log.Append(ctx, audit.Record{Principal: who, Action: "read", Auth: "token", Outcome: "ok"}); err != nil {
			panic(err)
		}
	}
	sh, err := keyset.NewHandle(signature.ED25519KeyTemplate())
	if err != nil {
		panic(err)
	}
	cp, err := audit.NewCheckpointer(log, sh, "")
	if err != nil {
		panic(err)
	}
	signed, _, err := cp.Sign(ctx)
	if err != nil {
		panic(err)
	}

	// The operator's side: the export, and the public keyset.
	var export bytes.Buffer
	if err := log.Export(ctx, &export); err != nil {
		panic(err)
	}
	if err := audit.WriteCheckpointLine(&export, signed); err != nil {
		panic(err)
	}
	public, err := cp.PublicKeyset()
	if err != nil {
		panic(err)
	}

	// The auditor's side: no MAC key, no server.
	v, err := audit.ParsePublicKeyset(public)
	if err != nil {
		panic(err)
	}
	report, err := audit.VerifyExport(&export, v)
	if err != nil {
		panic(err)
	}
	fmt.Println("records:", report.Records, "covered up to:", report.Covered, "clean:", report.OK())
	// Output:
	// records: 3 covered up to: 3 clean: true
}
