package rpc

import (
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// arrowMem is the allocator of the Arrow handlers: Go memory, so that
// record batches are garbage-collected like any other value and a handler
// that fails midway leaks nothing.
var arrowMem memory.Allocator = memory.NewGoAllocator()

// optionalTime converts an optional request timestamp; nil is the zero
// time (no bound).
func optionalTime(name string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, invalid(fmt.Errorf("invalid %s: %w", name, err))
	}
	t := ts.AsTime()
	if t.IsZero() {
		return time.Time{}, invalid(fmt.Errorf("%s is outside 1677-09-21..2262-04-11", name))
	}
	return t, nil
}

func permissionDenied(format string, a ...any) error {
	return connect.NewError(connect.CodePermissionDenied, fmt.Errorf(format, a...))
}
