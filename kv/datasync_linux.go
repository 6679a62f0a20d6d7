package kv

import (
	"errors"
	"os"
	"syscall"
)

// datasync is fdatasync(2).
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd())) // #nosec G115 -- a file descriptor fits an int
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
