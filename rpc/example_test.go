package rpc_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"connectrpc.com/connect"

	"github.com/featurevault/featurevault/policy"
	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// Serve a store over Connect in memory, create an analyst who may read
// every column but the pii-tagged ones, and read as that analyst: the pii
// column comes back DENIED.
func ExampleNewServer() {
	dir, _ := os.MkdirTemp("", "featurevault-example")
	defer os.RemoveAll(dir)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	b, err := rpc.OpenBackend(ctx, dir, store.DefaultOptions(dir).WithLogger(log), log)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	srv := httptest.NewServer(rpc.NewServer(b, rpc.WithLogger(log)).Handler())
	defer srv.Close()

	// The bootstrap admin defines a view, writes a row and grants a rule.
	spec, _ := store.ParseSpec([]byte(`
entities: [{name: customer, join_key: customer_id}]
feature_views:
  - {name: profile, entity: customer, fields: [{name: income, type: float64, tags: [pii]}, {name: age, type: int64}]}
`))
	_ = b.Store.ApplySpec(spec)
	v, _ := b.Store.View("profile")
	_ = b.Policy.SyncView("profile", policy.FieldRefs(&v))
	_, _ = b.Store.Write(ctx, "profile", []store.Row{{EntityKey: "c-42", Values: map[string]any{"income": 52000.5, "age": int64(41)}}})
	_ = b.Policy.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "profile.*"})
	_ = b.Policy.Grant(policy.Rule{Role: "analyst", Action: policy.ActionRead, Object: "tag:pii", Deny: true})
	token, _ := b.Policy.CreatePrincipal("ana", []string{"analyst"}, map[string][]string{"purpose": {"analytics"}})

	client := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, srv.URL)
	req := connect.NewRequest(&fvv1.GetOnlineFeaturesRequest{View: "profile", EntityKeys: []string{"c-42"}})
	req.Header().Set("Authorization", "Bearer "+token)
	req.Header().Set(rpc.HeaderPurpose, "analytics")
	res, err := client.GetOnlineFeatures(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	row := res.Msg.Rows[0]
	for i, f := range res.Msg.Features {
		fmt.Println(f, row.Statuses[i], row.Values[i].GetInt64Value())
	}
	_, err = os.Stat(filepath.Join(dir, rpc.AdminTokenFile))
	fmt.Println("admin token file written:", err == nil, strings.HasPrefix(token, "fvt_"))
	// Output:
	// income FIELD_STATUS_DENIED 0
	// age FIELD_STATUS_PRESENT 41
	// admin token file written: true true
}
