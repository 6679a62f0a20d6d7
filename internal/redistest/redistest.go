// Package redistest starts a real Redis Cluster for tests: six redis-server
// processes (three primaries, three replicas) on free loopback ports, joined
// with redis-cli --cluster create, each with its own directory for its
// cluster config, RDB and AOF files.
//
// Tests that need it call Require first: outside CI a missing redis-server
// skips the test loudly; with the environment variable CI set it fails the
// test, so CI cannot pass by skipping (.ci/run installs Debian's
// redis-server).
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NodeTimeout is the cluster-node-timeout of a test cluster: a primary
// unreachable this long is failed over to its replica.
const NodeTimeout = 2 * time.Second

// Node is one redis-server process of a Cluster.
type Node struct {
	Addr string // 127.0.0.1:port
	Dir  string // its working directory: nodes.conf, dump.rdb, appendonlydir/
	cmd  *exec.Cmd
	done chan struct{}
}

// Cluster is a running six-node Redis Cluster.
type Cluster struct {
	Nodes []*Node
	dir   string
}

// Require skips t when redis-server or redis-cli is not installed, or fails
// it when the environment variable CI is set.
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed, and CI is set: install Debian's redis-server (apt-get install -y redis-server)", bin)
			}
			t.Skipf("SKIPPED: %s is not installed; install Debian's redis-server (apt-get install -y redis-server) to run the Redis Cluster tests", bin)
		}
	}
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// Shared returns the test binary's shared cluster, starting it on first
// use. Call Main from TestMain so it is stopped when the tests end. Tests
// that kill nodes must Start their own cluster instead.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "redistest-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = start(dir)
	})
	if sharedErr != nil {
		t.Fatalf("start the shared Redis Cluster: %v", sharedErr)
	}
	return shared
}

// Main runs m's tests and then stops the shared cluster, if one started.
// Use it as: func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Close()
		_ = os.RemoveAll(shared.dir)
	}
	return code
}

// Start starts a cluster of t's own, stopped when t ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	c, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("start a Redis Cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Seeds returns every node's address.
func (c *Cluster) Seeds() []string {
	s := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		s[i] = n.Addr
	}
	return s
}

// URL returns the seeds as a redis:// URL with comma-separated hosts, the
// form serve --online takes.
func (c *Cluster) URL() string { return "redis://" + strings.Join(c.Seeds(), ",") }

func start(dir string) (_ *Cluster, err error) {
	c := &Cluster{dir: dir}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	for _, p := range ports {
		n, err := startNode(dir, p)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if err := waitPing(n, 10*time.Second); err != nil {
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Seeds()...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil { // #nosec G204 -- test harness, loopback addresses it chose
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	if err := c.WaitOK(20 * time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

func startNode(dir string, port int) (*Node, error) {
	ndir := filepath.Join(dir, "node-"+strconv.Itoa(port))
	if err := os.MkdirAll(ndir, 0o700); err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", // #nosec G204 -- test harness
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(ndir, "nodes.conf"),
		"--cluster-node-timeout", strconv.Itoa(int(NodeTimeout/time.Millisecond)),
		"--dir", ndir,
		"--save", "",
		"--appendonly", "yes",
		"--repl-diskless-sync-delay", "0",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(ndir, "redis.log"),
	)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	n := &Node{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: ndir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(n.done) }()
	return n, nil
}

// Kill stops n at once (SIGKILL), as a crash would.
func (n *Node) Kill() {
	if n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
	}
	<-n.done
}

// Alive reports whether n's process is still running.
func (n *Node) Alive() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Close kills every node.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// CLI runs redis-cli against n with args and returns its output.
func (n *Node) CLI(args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(n.Addr)
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output() // #nosec G204 -- test harness
	return string(out), err
}

// Role returns "master" or "slave" (Redis's words) for n.
func (n *Node) Role() string {
	out, err := n.CLI("ROLE")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
}

// Primaries returns the nodes that are primaries now.
func (c *Cluster) Primaries() []*Node {
	var p []*Node
	for _, n := range c.Nodes {
		if n.Alive() && n.Role() == "master" {
			p = append(p, n)
		}
	}
	return p
}

// WaitOK waits until every live node reports cluster_state:ok and every
// live replica is in sync with its primary.
func (c *Cluster) WaitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, n := range c.Nodes {
			if !n.Alive() {
				continue
			}
			out, err := n.CLI("CLUSTER", "INFO")
			if err != nil || !strings.Contains(out, "cluster_state:ok") {
				ok = false
				break
			}
			// A replica that has not synced cannot take over its primary.
			if repl, err := n.CLI("INFO", "replication"); err != nil ||
				strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redistest: the cluster did not reach cluster_state:ok within %s", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Keys returns every key held by n (redis-cli --scan).
func (n *Node) Keys() ([]string, error) {
	out, err := n.CLI("--scan")
	if err != nil {
		return nil, err
	}
	var keys []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k := sc.Text(); k != "" {
			keys = append(keys, k)
		}
	}
	return keys, sc.Err()
}

// Files returns the contents of every file in n's directory (RDB, AOF,
// cluster config), after asking it to write its RDB.
func (n *Node) Files() (map[string][]byte, error) {
	if n.Alive() {
		if _, err := n.CLI("SAVE"); err != nil {
			return nil, err
		}
	}
	files := map[string][]byte{}
	err := filepath.WalkDir(n.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p) // #nosec G304 G122 -- test harness reading the directory it created
		files[p] = b
		return err
	})
	return files, err
}

func waitPing(n *Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !n.Alive() {
			log, _ := os.ReadFile(filepath.Join(n.Dir, "redis.log"))
			return fmt.Errorf("redistest: redis-server on %s exited: %s", n.Addr, bytes.TrimSpace(log))
		}
		if out, err := n.CLI("PING"); err == nil && strings.TrimSpace(out) == "PONG" {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redistest: redis-server on %s did not answer PING within %s", n.Addr, timeout)
}

// freePorts returns n loopback ports that are free, as are their cluster
// bus ports (port+10000).
func freePorts(n int) ([]int, error) {
	var ports []int
	seen := map[int]bool{}
	for tries := 0; len(ports) < n && tries < 200; tries++ {
		l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if p+10000 > 65535 || seen[p] || seen[p+10000] {
			continue
		}
		bus, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		seen[p], seen[p+10000] = true, true
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("redistest: found only %d free port pairs", len(ports))
	}
	return ports, nil
}
