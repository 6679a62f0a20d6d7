// Command inference is an online inference service's view of FeatureVault:
// it fetches the latest features of a few entities with GetOnlineFeatures,
// the way a model server would before each prediction, and reports the
// latency of the calls.
//
//	go run ./examples/inference --view customer_activity --entity cust-0001 --entity cust-0002
//
// See ../training/README.md for a server with data to read.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// entities collects repeated --entity flags.
type entities []string

func (e *entities) String() string     { return strings.Join(*e, ",") }
func (e *entities) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	server := flag.String("server", envOr("FEATUREVAULT_SERVER", "http://127.0.0.1:8433"), "FeatureVault server URL")
	token := flag.String("token", os.Getenv("FEATUREVAULT_TOKEN"), "bearer token (default: $FEATUREVAULT_TOKEN, else ./featurevault-data/admin.token)")
	purpose := flag.String("purpose", "inference", "purpose stated to the server")
	view := flag.String("view", "customer_activity", "view to read")
	features := flag.String("features", "", "comma-separated features (default: every field)")
	calls := flag.Int("calls", 200, "calls to time after the first")
	var keys entities
	flag.Var(&keys, "entity", "entity key to read; repeat for more")
	flag.Parse()
	if len(keys) == 0 {
		keys = entities{"cust-0001", "cust-0002", "cust-0003"}
	}
	if *token == "" {
		if b, err := os.ReadFile("featurevault-data/admin.token"); err == nil {
			*token = strings.TrimSpace(string(b))
		}
	}
	hdr := func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+*token)
			req.Header().Set("Featurevault-Purpose", *purpose)
			return next(ctx, req)
		}
	}
	fs := featurevaultv1connect.NewFeatureServiceClient(http.DefaultClient, *server, connect.WithInterceptors(connect.UnaryInterceptorFunc(hdr)))
	req := &fvv1.GetOnlineFeaturesRequest{View: *view, EntityKeys: keys}
	if *features != "" {
		req.Features = strings.Split(*features, ",")
	}
	ctx := context.Background()
	res, err := fs.GetOnlineFeatures(ctx, connect.NewRequest(req))
	if err != nil {
		log.Fatal(err)
	}
	for _, row := range res.Msg.Rows {
		fmt.Printf("%s", row.EntityKey)
		if row.EventTime != nil {
			fmt.Printf(" @ %s", row.EventTime.AsTime().Format(time.RFC3339))
		}
		fmt.Println()
		for i, name := range res.Msg.Features {
			fmt.Printf("  %-18s %-10s %v\n", name, strings.TrimPrefix(row.Statuses[i].String(), "FIELD_STATUS_"), value(row.Values[i]))
		}
	}
	lat := make([]time.Duration, 0, *calls)
	for range *calls {
		t := time.Now()
		if _, err := fs.GetOnlineFeatures(ctx, connect.NewRequest(req)); err != nil {
			log.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		fmt.Printf("%d calls of %d entities: p50 %s, p99 %s\n", len(lat), len(keys), lat[len(lat)/2], lat[len(lat)*99/100])
	}
}

// value prints a feature value for a person.
func value(v *fvv1.Value) any {
	switch k := v.GetKind().(type) {
	case *fvv1.Value_BoolValue:
		return k.BoolValue
	case *fvv1.Value_Int64Value:
		return k.Int64Value
	case *fvv1.Value_Float64Value:
		return k.Float64Value
	case *fvv1.Value_StringValue:
		return k.StringValue
	case *fvv1.Value_BytesValue:
		return fmt.Sprintf("%d bytes", len(k.BytesValue))
	case *fvv1.Value_TimestampValue:
		return k.TimestampValue.AsTime().Format(time.RFC3339Nano)
	case *fvv1.Value_FloatListValue:
		return k.FloatListValue.GetValues()
	}
	return "-"
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
