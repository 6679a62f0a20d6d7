package redistest

import "syscall"

// procAttr puts a node in its own process group and kills it when the test
// process dies, so a crashed test binary leaves no redis-server behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
