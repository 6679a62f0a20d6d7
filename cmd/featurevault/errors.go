package main

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
)

// explain turns an error from a Connect call into a message for a person:
// the server's own message followed by the Connect code, or, when the
// server could not be reached or did not answer in time, what to do.
//
// Server messages are written to say what to fix, and never carry feature
// values, raw entity keys, tokens or key material, so they are safe to
// print. A refused token is named by where it came from, never quoted.
func (c *client) explain(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code() {
	case connect.CodeUnavailable:
		if len(ce.Meta()) > 0 { // the server answered: something behind it is down
			return fmt.Errorf("the server at %s is unavailable: %s (unavailable)", c.server, ce.Message())
		}
		return fmt.Errorf("cannot reach a FeatureVault server at %s (%s); start one with \"featurevault serve\" or point --server at one", c.server, ce.Message())
	case connect.CodeDeadlineExceeded:
		return fmt.Errorf("the server at %s did not answer within --timeout %s (%s)", c.server, c.timeout, ce.Message())
	case connect.CodeUnauthenticated:
		if c.tokenSource != "" {
			return fmt.Errorf("the server refused the token from %s: %s (%s)", c.tokenSource, ce.Message(), ce.Code())
		}
	case connect.CodeUnimplemented:
		return fmt.Errorf("the server at %s does not implement this call; is it a FeatureVault server of the same version? (%s)", c.server, ce.Message())
	}
	return fmt.Errorf("%s (%s)", ce.Message(), ce.Code())
}
