package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/featurevault/featurevault/rpc"
	"github.com/featurevault/featurevault/store"
)

// serveLimits holds serve's per-request limits. Their defaults are the
// store's own ceilings; an operator can lower them (to bound the work one
// request can cause), not raise them.
type serveLimits struct {
	entitiesPerRead int
	rowsPerWrite    int
	valueBytes      int
}

// addFlags defines l's flags on serve.
func (l *serveLimits) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&l.entitiesPerRead, "max-entities-per-read", store.MaxEntitiesPerRead, fmt.Sprintf("entity keys one GetOnlineFeatures call may ask for (1 to %d)", store.MaxEntitiesPerRead))
	f.IntVar(&l.rowsPerWrite, "max-rows-per-write", store.MaxRowsPerWrite, fmt.Sprintf("rows one WriteFeatures call may carry, one atomic commit (1 to %d)", store.MaxRowsPerWrite))
	f.IntVar(&l.valueBytes, "max-value-bytes", store.MaxValueBytes, fmt.Sprintf("largest value a field accepts, in bytes (a string's or bytes' length, 4 per list element), on every write path (1 to %d)", store.MaxValueBytes))
}

// check refuses limits out of range before serve touches the data
// directory.
func (l serveLimits) check() error {
	if err := l.requestLimits().Check(); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "rpc: "))
	}
	if l.valueBytes < 1 || l.valueBytes > store.MaxValueBytes {
		return fmt.Errorf("--max-value-bytes %d: give a number from 1 to %d (the store's own limit per value)", l.valueBytes, store.MaxValueBytes)
	}
	return nil
}

func (l serveLimits) requestLimits() rpc.RequestLimits {
	return rpc.RequestLimits{EntitiesPerRead: l.entitiesPerRead, RowsPerWrite: l.rowsPerWrite}
}

// apply sets the limits on the store's options and the server's.
func (l serveLimits) apply(o store.Options, opts []rpc.Option) (store.Options, []rpc.Option) {
	return o.WithMaxValueBytes(l.valueBytes), append(opts, rpc.WithRequestLimits(l.requestLimits()))
}
