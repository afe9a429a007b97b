// Package testpeers starts the real servers gatehouse's tests talk to
// (redis-server for now) on free loopback ports, and stops them when the test
// ends. A missing binary fails the test, never skips it: run
// `eval "$(scripts/peers.sh)"` to install the peers.
package testpeers

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that this process has not been given before: a port picked for one server
// is free again until that server binds it, and the kernel may hand it out
// once more in the meantime (two servers of one test then raced for it).
func FreePort(t testing.TB) int {
	t.Helper()
	given.mu.Lock()
	defer given.mu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testpeers: free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !given.ports[port] {
			given.ports[port] = true
			return port
		}
	}
	t.Fatal("testpeers: no free port this process has not been given already")
	return 0
}

var given = struct {
	mu    sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// startTimeout bounds how long a peer may take to answer after starting.
const startTimeout = 15 * time.Second

// RedisServer is a redis-server process owned by one test: loopback only, no
// persistence, its working directory in t.TempDir(). It is killed when the
// test ends.
type RedisServer struct {
	// Addr is host:port, stable across Stop and Start.
	Addr string

	t    testing.TB
	bin  string
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *syncBuffer
}

// Redis starts a redis-server for t and returns its address.
func Redis(t testing.TB) (addr string) {
	t.Helper()
	return StartRedis(t).Addr
}

// StartRedis starts a redis-server for t (binary from $GATEHOUSE_REDIS_BIN, else
// redis-server on PATH) and waits until it answers PING. Stop and Start
// simulate an outage on the same address.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	bin := os.Getenv("GATEHOUSE_REDIS_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Fatalf("testpeers: redis-server not found on PATH and GATEHOUSE_REDIS_BIN unset; "+
				"run `eval \"$(scripts/peers.sh)\"` to install the test peers (%v)", err)
		}
	}
	port := FreePort(t)
	s := &RedisServer{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		t:    t, bin: bin, port: port, dir: t.TempDir(),
	}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Start (re)starts the server on its address and waits for PING. Starting a
// running server does nothing.
func (s *RedisServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testpeers: start %s: %v", s.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done, s.out = cmd, done, out
	if err := waitPing(s.Addr, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		s.cmd = nil
		s.t.Fatalf("testpeers: redis-server on %s: %v\n%s", s.Addr, err, out.String())
	}
}

// Stop kills the server (SIGKILL: an abrupt outage) and waits for it to exit.
// Stopping a stopped server does nothing.
func (s *RedisServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// waitPing polls addr with PING until it answers +PONG, the process exits, or
// startTimeout passes.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = ping(addr); last == nil {
			return nil
		}
		select {
		case <-exited:
			return errExited
		case <-deadline.C:
			return last
		case <-tick.C:
		}
	}
}

type peerError string

func (e peerError) Error() string { return string(e) }

const (
	errExited  = peerError("process exited before answering PING")
	errNotPong = peerError("unexpected answer to PING")
)

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return errNotPong
	}
	return nil
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// StopKeepingData shuts the server down with SHUTDOWN SAVE, so the next
// Start loads the same data from its directory: an outage that loses no
// sessions. Stopping a stopped server does nothing.
func (s *RedisServer) StopKeepingData() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if conn, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		_, _ = conn.Write([]byte("SHUTDOWN SAVE\r\n"))
		_ = conn.Close()
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}
