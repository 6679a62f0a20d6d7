package flightsrv

import (
	"io"
	"net/http"
	"sync"
)

// inProcess is an http.RoundTripper that serves each request with a
// handler in the same process, streaming both ways through pipes: the
// handler reads the request body as the client writes it, and the client
// reads the response body as the handler writes it, so a stream of any
// length holds at most one message in flight. The Connect protocol needs
// no HTTP trailers, so none are carried.
//
// The request keeps its context, so values the caller put there (the
// gateway procedure) reach the handler, and cancelling it ends the call.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "in-process"
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/2.0", 2, 0
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeResponse{header: make(http.Header), body: pw, ready: make(chan struct{})}
	go func() {
		defer w.finish()
		t.h.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		_ = pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status: http.StatusText(w.code), StatusCode: w.code,
		Proto: "HTTP/2.0", ProtoMajor: 2,
		Header: w.sent, Body: pr, ContentLength: -1, Request: req,
	}, nil
}

// pipeResponse is the handler's side of an in-process call.
type pipeResponse struct {
	header http.Header // what the handler sets
	sent   http.Header // the header as sent, a copy
	code   int
	body   *io.PipeWriter
	once   sync.Once
	ready  chan struct{} // closed once the header is sent
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush implements http.Flusher: every Write already reaches the reader.
func (w *pipeResponse) Flush() { w.WriteHeader(http.StatusOK) }

func (w *pipeResponse) finish() {
	w.WriteHeader(http.StatusOK)
	_ = w.body.Close()
}
