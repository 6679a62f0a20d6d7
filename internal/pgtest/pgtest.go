// Package pgtest starts a real PostgreSQL server for the tests of one test
// binary and gives each test a database of its own.
//
// The server is Debian's postgresql package (initdb and postgres under
// /usr/lib/postgresql/*/bin, or on PATH), started on a loopback port in a
// temporary directory the first time a test asks for a database, and
// stopped, with its directory removed, when the binary's tests end. The
// package calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// PostgreSQL refuses to run as root: when the tests run as root, the server
// runs as the postgres user (or nobody) in a directory that user owns.
//
// When the binaries are absent a test is skipped with a loud message, unless
// the environment variable CI is set: then it fails, because CI must run it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one running PostgreSQL.
type Server struct {
	// Dir is the data directory (for tests that inspect what reached disk).
	Dir string
	// Port is the loopback TCP port it listens on.
	Port int

	cmd  *exec.Cmd
	root string
	done chan struct{}
}

var (
	mu      sync.Mutex
	started *Server
	failure error
	dbSeq   atomic.Int64
)

// Main runs the tests, then stops the server if one was started.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if started != nil {
		started.stop()
	}
	mu.Unlock()
	os.Exit(code)
}

// Get returns the binary's server, starting it on first use. It skips the
// test when PostgreSQL is not installed (fails under CI).
func Get(t testing.TB) *Server {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if started == nil && failure == nil {
		started, failure = start()
	}
	if failure != nil {
		if errors.Is(failure, errNoBinaries) && os.Getenv("CI") == "" {
			t.Skipf("SKIPPED: %v. Install Debian's postgresql package (apt-get install -y postgresql) to run this test; CI runs it.", failure)
		}
		t.Fatalf("pgtest: %v", failure)
	}
	return started
}

// URL returns the URL of a new, empty database for this test on the binary's
// server. The database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	s := Get(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return s.url(name)
}

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

var errNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin or on PATH")

// binDir finds the directory holding initdb and postgres, newest version
// first.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		d := filepath.Dir(p)
		if fileExists(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", errNoBinaries
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// runAs returns the credential to run PostgreSQL with: nil when not root,
// else the postgres user's (or nobody's).
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root and neither the postgres nor the nobody user exists to run PostgreSQL as")
}

func start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{root: root, Dir: filepath.Join(root, "data"), done: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(root)
		return nil, err
	}
	if cred != nil {
		// The temporary directory is root's and 0700: hand it to the user.
		if err := os.Chown(root, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.Dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions") // #nosec G204 -- the test server's own binary
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = root
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, out))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	s.Port = port
	logf, err := os.Create(filepath.Join(root, "postgres.log")) // #nosec G304 -- in the temporary directory made above
	if err != nil {
		return fail(err)
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", s.Dir, // #nosec G204 -- the test server's own binary
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB")
	s.cmd.Dir = root
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// Pdeathsig stops the server if the test binary dies without Main's cleanup.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		_ = logf.Close()
		return fail(fmt.Errorf("start postgres: %w", err))
	}
	go func() { _ = s.cmd.Wait(); _ = logf.Close(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return s, nil
		}
		cancel()
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(root, "postgres.log")) // #nosec G304 -- in the temporary directory made above
			return fail(fmt.Errorf("postgres exited at start: %s", tail(string(log))))
		default:
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("postgres did not accept connections within 60s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the server down fast and removes its directory.
func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	_ = os.RemoveAll(s.root)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}
