//go:build !linux

package redistest

import "syscall"

// procAttr puts a node in its own process group.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
