package audit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/featurevault/featurevault/audit"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"
)

// Append two records and verify the chain. In the server the MAC comes from
// keys.Keyring.NamedKeyset("audit-mac", mac.HMACSHA256Tag256KeyTemplate()).
func Example() {
	ctx := context.Background()
	store, err := kv.OpenBadger(kv.DefaultOptions("").WithInMemory(true))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	h, err := keyset.NewHandle(mac.HMACSHA256Tag256KeyTemplate())
	if err != nil {
		panic(err)
	}
	m, err := mac.New(h)
	if err != nil {
		panic(err)
	}
	clock := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	log, err := audit.Open(store, m, audit.DefaultOptions().WithClock(clock))
	if err != nil {
		panic(err)
	}

	for _, r := range []audit.Record{
		{Principal: "alice", Action: "read", View: "customer_profile",
			Allowed: []string{"ltv"}, Denied: []string{"email"}, Entities: 2,
			Purpose: "training", Env: "prod", Rule: "p, role:analyst, customer_profile.ltv, read, training, prod, allow",
			Outcome: "ok"},
		{Principal: "mallory", Action: "admin:apply_view", Outcome: "permission_denied"},
	} {
		rec, err := log.Append(ctx, r)
		if err != nil {
			panic(err) // fail the request: nothing unaudited happens
		}
		fmt.Println(rec.Seq, rec.Time.Format(time.RFC3339), rec.Principal, rec.Action, rec.Outcome)
	}

	report, err := log.Verify(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("records:", report.Records, "clean:", report.OK(), "head:", report.Head.Seq)
	// Output:
	// 1 2026-03-01T12:00:00Z alice read ok
	// 2 2026-03-01T12:00:00Z mallory admin:apply_view permission_denied
	// records: 2 clean: true head: 2
}
