package rpc

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// maxDrainBytes bounds how much of a refused request body the server
// reads and discards, so that an HTTP/1.1 client still reads the error
// rather than a reset connection, without the server reading a huge body.
const maxDrainBytes = 8 << 20

// limitMessages returns r's body wrapped so that a request message larger
// than limit bytes is refused with ResourceExhausted, in words that name
// the limit and the --max-request-bytes flag, before any of the message
// is read. Enveloped protocols (gRPC, gRPC-Web, Connect streaming) are
// checked message by message from each envelope's length prefix; a
// Connect unary body is one message and is counted as it is read.
//
// Connect enforces the same limit (connect.WithReadMaxBytes) and remains
// the backstop: it alone sees the size of a compressed message once
// decompressed. A limit of zero or less checks nothing.
func limitMessages(r *http.Request, limit int64) io.ReadCloser {
	if limit <= 0 || r.Body == nil || r.Body == http.NoBody {
		return r.Body
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	enveloped := strings.HasPrefix(ct, "application/grpc") || strings.HasPrefix(ct, "application/connect+")
	return &messageLimitReader{body: r.Body, limit: limit, enveloped: enveloped, length: r.ContentLength}
}

// messageLimitReader is the body reader of limitMessages.
type messageLimitReader struct {
	body      io.ReadCloser
	limit     int64
	enveloped bool

	// Enveloped: the prefix being read and what is left of the message.
	prefix  [5]byte
	prefixN int
	left    int64

	// Unary: the declared Content-Length (-1 if unknown) and bytes read.
	length int64
	read   int64
}

func (r *messageLimitReader) Read(p []byte) (int, error) {
	if !r.enveloped {
		return r.readUnary(p)
	}
	if r.left > 0 {
		if int64(len(p)) > r.left {
			p = p[:r.left]
		}
		n, err := r.body.Read(p)
		r.left -= int64(n)
		return n, err
	}
	// Read no further than the end of the prefix, so a message is refused
	// before any byte of it is handed on.
	n, err := r.body.Read(p[:min(len(p), len(r.prefix)-r.prefixN)])
	copy(r.prefix[r.prefixN:], p[:n])
	r.prefixN += n
	if r.prefixN == len(r.prefix) {
		size := int64(binary.BigEndian.Uint32(r.prefix[1:]))
		if size > r.limit {
			return 0, r.refuse(size)
		}
		r.prefixN, r.left = 0, size
	}
	return n, err
}

func (r *messageLimitReader) readUnary(p []byte) (int, error) {
	if r.length > r.limit {
		return 0, r.refuse(r.length)
	}
	n, err := r.body.Read(p)
	r.read += int64(n)
	if r.read > r.limit {
		return 0, r.refuse(-1)
	}
	return n, err
}

// refuse discards a bounded part of the rest of the body and returns the
// error; size is the message's size, or -1 when it is not known.
func (r *messageLimitReader) refuse(size int64) error {
	_, _ = io.CopyN(io.Discard, r.body, maxDrainBytes)
	return messageTooLarge(size, r.limit)
}

func (r *messageLimitReader) Close() error { return r.body.Close() }

// messageTooLarge is the ResourceExhausted answer to a request message
// over the limit; size is -1 when it is not known.
func messageTooLarge(size, limit int64) error {
	what := "the request message is"
	if size >= 0 {
		what = fmt.Sprintf("the request message is %d bytes,", size)
	}
	return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
		"%s over the server's limit of %d bytes per message (--max-request-bytes): send fewer rows or entities per call, or ask the operator to raise --max-request-bytes", what, limit))
}
