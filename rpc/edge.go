package rpc

import (
	"context"
	"crypto/x509"
	"net/http"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	fvv1 "github.com/featurevault/featurevault/proto/featurevault/v1"
)

// edgeConfig is what the server does at its network edge, before a
// request reaches a handler: client certificates (clientcert.go), CORS
// (cors.go), the request message limit that names its flag (msglimit.go)
// and the limits on streams (streamlimits.go).
type edgeConfig struct {
	clientCAs              *x509.CertPool
	corsOrigins            []string
	maxStreamDuration      time.Duration
	maxStreamsPerPrincipal int
}

// edge wraps the services' mux in the server's HTTP edge. CORS is
// outermost, so that a browser's preflight is answered before anything
// else runs; then every request body gets the message limit, and a
// streaming call also carries its response controller (for the stream
// limits) in its context.
func (s *Server) edge(mux http.Handler) http.Handler {
	streaming := streamingProcedures()
	limit := int64(s.cfg.maxRequestBytes)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if streaming[r.URL.Path] {
			ctx = context.WithValue(ctx, transportKey{}, http.NewResponseController(w))
		}
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			ctx = context.WithValue(ctx, peerCertKey{}, r.TLS.VerifiedChains[0][0])
		}
		r = r.WithContext(ctx) // a shallow copy, so the body can be replaced
		r.Body = limitMessages(r, limit)
		mux.ServeHTTP(w, r)
	})
	if c := s.cors(); c != nil {
		h = c.Handler(h)
	}
	return h
}

// streamingProcedures returns the paths of the FeatureVault procedures
// that stream in either direction, read from the services' descriptors
// so that a new streaming RPC is covered without a change here.
func streamingProcedures() map[string]bool {
	out := make(map[string]bool)
	for _, file := range []protoreflect.FileDescriptor{fvv1.File_featurevault_v1_feature_service_proto, fvv1.File_featurevault_v1_admin_service_proto} {
		svcs := file.Services()
		for i := range svcs.Len() {
			sd := svcs.Get(i)
			ms := sd.Methods()
			for j := range ms.Len() {
				if m := ms.Get(j); m.IsStreamingClient() || m.IsStreamingServer() {
					out["/"+string(sd.FullName())+"/"+string(m.Name())] = true
				}
			}
		}
	}
	return out
}
