package flightsrv_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/featurevault/featurevault/flightsrv"
	"github.com/featurevault/featurevault/policy"
	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// Serve Arrow Flight on the FeatureVault port, create an analyst who may
// read every column but the pii-tagged ones, and read a view as that
// analyst with a plain Flight client: the pii column is not in the
// stream.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "featurevault-flight-example")
	defer os.RemoveAll(dir)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	b, err := rpc.OpenBackend(ctx, dir, store.DefaultOptions(dir).WithLogger(log), log)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
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
	token, _ := b.Policy.CreatePrincipal("ana", []string{"analyst"}, map[string][]string{"purpose": {"training"}})

	// The server: Connect and Flight on one listener.
	srv := rpc.NewServer(b, rpc.WithLogger(log))
	srv.Mount(flightsrv.Prefix, flightsrv.New(srv, flightsrv.WithLogger(log)))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-done }()

	// A Flight client: the token and the purpose are call headers, the
	// ticket a JSON command.
	c, err := flight.NewClientWithMiddleware(ln.Addr().String(), nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	cctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token, "featurevault-purpose", "training")
	stream, err := c.DoGet(cctx, &flight.Ticket{Ticket: []byte(`{"view": "profile"}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	rd, err := flight.NewRecordReader(stream)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rd.Release()
	for _, f := range rd.Schema().Fields() {
		fmt.Println("column", f.Name)
	}
	for rd.Next() {
		rec := rd.RecordBatch()
		fmt.Println(rec.NumRows(), "row:", rec.Column(0).ValueStr(0), "age", rec.Column(2).ValueStr(0))
	}
	// Output:
	// column customer_id
	// column event_timestamp
	// column age
	// 1 row: c-42 age 41
}
