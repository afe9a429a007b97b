package testpeers

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d not free: %v", p, err)
	}
	l.Close()
}

func TestRedisStopStart(t *testing.T) {
	s := StartRedis(t)
	if err := ping(s.Addr); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr); err == nil {
		t.Fatal("ping succeeded after Stop")
	}
	s.Stop() // idempotent
	s.Start()
	if err := ping(s.Addr); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestRedisAddr(t *testing.T) {
	addr := Redis(t)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("Redis() = %q: %v", addr, err)
	}
	if err := ping(addr); err != nil {
		t.Fatalf("ping: %v", err)
	}
}
