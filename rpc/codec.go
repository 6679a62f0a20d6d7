package rpc

import (
	"fmt"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// WithCodec replaces Connect's binary protobuf codec ("proto") with one
// that marshals through the code protoc-gen-go-vtproto generates beside
// every message (proto/featurevault/v1/*_vtproto.pb.go): no reflection, no
// interface per oneof value. An online read of 100 × 50 values spent 17% of
// the server's CPU in reflective marshalling (BENCHMARKS.md). Decoding is
// protoc-gen-go's proto.Unmarshal as before, so what a server accepts is
// unchanged, UTF-8 checks of string fields included; messages without
// generated marshalling (Connect's own) fall back to proto.Marshal.
//
// The generated marshalling does not check that string fields are UTF-8,
// as proto.Marshal does. It need not: every string a server sends was
// decoded from a request (and checked there), is a stored string value
// (refused at write unless valid UTF-8: store.checkValue), a registry name
// (validated) or text of the server's own.
//
// The server's handlers use it, and so does the load generator's no-op
// server, which must stay the cheapest Connect server to be a floor.
func WithCodec() connect.Option { return connect.WithCodec(vtCodec{}) }

// vtMarshaler is the marshalling protoc-gen-go-vtproto generates.
type vtMarshaler interface {
	SizeVT() int
	MarshalToSizedBufferVT(dst []byte) (int, error)
}

type vtCodec struct{}

func (vtCodec) Name() string { return "proto" }

func (vtCodec) IsBinary() bool { return true }

func (c vtCodec) Marshal(message any) ([]byte, error) { return c.MarshalAppend(nil, message) }

// MarshalAppend appends message's encoding to dst (Connect reuses its
// buffers through this method).
func (vtCodec) MarshalAppend(dst []byte, message any) ([]byte, error) {
	if m, ok := message.(vtMarshaler); ok {
		size := m.SizeVT()
		dst = slices.Grow(dst, size)
		out := dst[len(dst) : len(dst)+size]
		if _, err := m.MarshalToSizedBufferVT(out); err != nil {
			return nil, fmt.Errorf("marshal %T: %w", message, err)
		}
		return dst[:len(dst)+size], nil
	}
	m, err := asProto(message)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

func (vtCodec) Unmarshal(data []byte, message any) error {
	m, err := asProto(message)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", message, err)
	}
	return nil
}

// MarshalStable is the deterministic encoding Connect uses for requests
// sent as HTTP GET (idempotent procedures); it stays protoc-gen-go's.
func (vtCodec) MarshalStable(message any) ([]byte, error) {
	m, err := asProto(message)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func asProto(message any) (proto.Message, error) {
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", message)
	}
	return m, nil
}
