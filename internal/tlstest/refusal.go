// Package tlstest checks, in tests, how a TLS server refuses a client.
package tlstest

import (
	"crypto/tls"
	"net"
	"time"
)

// Refusal connects to addr (host:port) with cfg and returns the error the
// server's refusal produced: the alert it sent, such as "remote error: tls:
// certificate required", or nil if it accepted the client.
//
// A call over HTTP cannot be relied on for those words. With TLS 1.3 the
// client finishes its side of the handshake before the server has checked
// the client's certificate, so the client may be writing its request when
// the server's alert and close arrive, and report "broken pipe" instead.
// Refusal reads before it writes, and so always receives the alert.
func Refusal(addr string, cfg *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	_, err = conn.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return nil // the server accepted the client and waits for a request
	}
	return err
}
