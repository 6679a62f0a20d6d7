package flightsrv

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// inProcess is an http.RoundTripper that serves each request with a
// handler in the same process, streaming both ways through pipes: the
// handler reads the request body as the client writes it, and the client
// reads the response body as the handler writes it, so a stream of any
// length holds a bounded amount in flight (responseBuffer). The Connect
// protocol needs no HTTP trailers, so none are carried.
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
	body := newBufPipe(responseBuffer)
	w := &pipeResponse{header: make(http.Header), body: body, reqBody: sreq.Body, ready: make(chan struct{})}
	go func() {
		defer w.finish()
		// As net/http does, the request body is closed when the handler
		// returns: a client still sending learns the call is over.
		defer sreq.Body.Close()
		t.h.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		body.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status: http.StatusText(w.code), StatusCode: w.code,
		Proto: "HTTP/2.0", ProtoMajor: 2,
		Header: w.sent, Body: body, ContentLength: -1, Request: req,
	}, nil
}

// pipeResponse is the handler's side of an in-process call.
type pipeResponse struct {
	header http.Header // what the handler sets
	sent   http.Header // the header as sent, a copy
	code   int
	body   *bufPipe
	// reqBody is the request body, closed by SetReadDeadline.
	reqBody io.Closer
	once    sync.Once
	ready   chan struct{} // closed once the header is sent
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

// errDeadline ends an in-process call whose deadline passed.
var errDeadline = errors.New("flightsrv: in-process call past its write or read deadline")

// SetWriteDeadline implements what http.ResponseController asks of a
// connection, so that the server's stream limit can cut a handler
// blocked writing to a client that stopped reading: at the deadline the
// response pipe fails its writer. A zero time clears nothing (no
// deadline was set).
func (w *pipeResponse) SetWriteDeadline(t time.Time) error {
	if !t.IsZero() {
		time.AfterFunc(time.Until(t), func() { w.body.CloseWithError(errDeadline) })
	}
	return nil
}

// SetReadDeadline wakes a handler blocked reading the request: at the
// deadline the request body is closed.
func (w *pipeResponse) SetReadDeadline(t time.Time) error {
	if !t.IsZero() {
		time.AfterFunc(time.Until(t), func() { _ = w.reqBody.Close() })
	}
	return nil
}

func (w *pipeResponse) finish() {
	w.WriteHeader(http.StatusOK)
	w.body.CloseWithError(io.EOF)
}

// responseBuffer is how many response bytes a handler may write ahead of
// the reader before its writes block: enough for a handler's last
// message (an error) to be written, and the handler to return, while
// the client is still sending, as a network connection's buffers allow.
const responseBuffer = 1 << 20

// bufPipe is an in-memory pipe whose writer blocks only when limit bytes
// are unread.
type bufPipe struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	limit  int
	err    error // set once the writer closed: returned after the data
	closed bool  // the reader closed: writes fail
}

func newBufPipe(limit int) *bufPipe {
	p := &bufPipe{limit: limit}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *bufPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) >= p.limit && !p.closed && p.err == nil {
		p.cond.Wait()
	}
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	if p.err != nil {
		return 0, p.err
	}
	p.buf = append(p.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

func (p *bufPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 && p.err == nil && !p.closed {
		p.cond.Wait()
	}
	if len(p.buf) > 0 {
		n := copy(b, p.buf)
		p.buf = p.buf[n:]
		if len(p.buf) == 0 {
			p.buf = nil // let the backing array go
		}
		p.cond.Broadcast()
		return n, nil
	}
	if p.closed {
		return 0, io.ErrClosedPipe
	}
	return 0, p.err
}

// Close is the reader's close: the writer's next write fails.
func (p *bufPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.cond.Broadcast()
	return nil
}

// CloseWithError ends the stream: the reader gets err after the data.
func (p *bufPipe) CloseWithError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
}
