// Package rpc serves FeatureVault over Connect-RPC: one port speaks the
// Connect protocol, gRPC and gRPC-Web, with gRPC server reflection so that
// grpcurl and similar tools can discover the API.
//
// It composes the domain packages (store, keys) for the network and is the
// only place that knows Connect: store errors become Connect codes here
// (InvalidArgument, NotFound, FailedPrecondition, DataLoss), with messages
// that say what to fix and never carry a feature value or a raw entity key.
//
// Transport: cleartext HTTP/2 (h2c) and HTTP/1.1 on loopback addresses; TLS
// when a certificate is given. Plaintext on any other address is refused
// unless WithAllowPlaintext is set, because bearer credentials and feature
// values would otherwise cross the network in the clear.
package rpc
