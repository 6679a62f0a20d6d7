package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// openInput opens the file a -f flag names, or returns stdin for "-".
// The returned close function is safe to call in every case.
func openInput(stdin io.Reader, name string) (io.Reader, func() error, error) {
	if name == "-" {
		return stdin, func() error { return nil }, nil
	}
	f, err := os.Open(name) // #nosec G304 -- the file the operator named on the command line
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the message names the path already
		}
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return f, f.Close, nil
}

// readInput reads the whole of the -f input, refusing more than limit bytes.
func readInput(stdin io.Reader, name string, limit int64) ([]byte, error) {
	r, closeInput, err := openInput(stdin, name)
	if err != nil {
		return nil, err
	}
	defer closeInput()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", displayName(name), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; split it", displayName(name), limit)
	}
	return data, nil
}

// displayName names an input in messages.
func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}
