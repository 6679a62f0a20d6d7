package rpc

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/featurevault/featurevault/proto/featurevault/v1/featurevaultv1connect"
)

// HealthCheckProcedure is the standard gRPC health check (grpc.health.v1),
// answered without authentication so load balancers and orchestrators can
// probe the server (grpc_health_probe, Kubernetes gRPC probes, or a
// Connect POST with JSON).
const HealthCheckProcedure = "/grpc.health.v1.Health/Check"

var errUnknownService = errors.New("no such service: ask about featurevault.v1.FeatureService, featurevault.v1.AdminService or the server (\"\")")

// healthHandler answers SERVING for the whole server ("") and for each of
// its services while the server runs, and NOT_FOUND for any other service.
// It reveals nothing beyond the API's public names. While serving returns
// an error (a server on a shared store whose membership lease lapsed) it
// answers NOT_SERVING, so that a load balancer takes the server out.
func healthHandler(serving func() error) (string, http.Handler) {
	services := map[string]bool{"": true, featurevaultv1connect.FeatureServiceName: true, featurevaultv1connect.AdminServiceName: true}
	h := connect.NewUnaryHandler(HealthCheckProcedure, func(_ context.Context, req *connect.Request[healthpb.HealthCheckRequest]) (*connect.Response[healthpb.HealthCheckResponse], error) {
		if !services[req.Msg.GetService()] {
			return nil, connect.NewError(connect.CodeNotFound, errUnknownService)
		}
		if serving != nil && serving() != nil {
			return connect.NewResponse(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}), nil
		}
		return connect.NewResponse(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}), nil
	})
	return HealthCheckProcedure, h
}
