package proxy_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

// openTunnel signs c's session into a WebSocket tunnel through e and checks
// that it echoes.
func openTunnel(t *testing.T, e *env, c *http.Client) (net.Conn, *bufio.Reader) {
	t.Helper()
	var cookie string
	for _, ck := range c.Jar.Cookies(mustURL(e.srv.URL)) {
		cookie += "Cookie: " + ck.Name + "=" + ck.Value + "\r\n"
	}
	resp, conn, br := wsHandshake(t, strings.TrimPrefix(e.srv.URL, "http://"), cookie+"Origin: "+e.srv.URL+"\r\n")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	// A bound for a failing test only: a live tunnel echoes at once, and a
	// closed one reads EOF at once.
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	echoOver(t, conn, br)
	return conn, br
}

func echoOver(t *testing.T, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	io.WriteString(conn, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo over the tunnel: %q %v", buf, err)
	}
}

// tick lets an open tunnel check its session once more. The channel holds
// one tick: a second send returns only once the watch has taken the first.
func tick(t *testing.T, ticks chan time.Time) {
	t.Helper()
	select {
	case ticks <- time.Time{}:
	case <-time.After(10 * time.Second): // a bound for a failing test only
		t.Fatal("no tunnel is watching its session")
	}
}

// checksKeepTunnel lets the watch check twice while nothing changed (the
// third tick is taken once the first two checks are done) and insists the
// tunnel still echoes.
func checksKeepTunnel(t *testing.T, ticks chan time.Time, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	tick(t, ticks)
	tick(t, ticks)
	tick(t, ticks)
	echoOver(t, conn, br)
}

// lastTick lets the watch check once more after the change under test. It
// does not wait: when the buffer is still full, a check is under way that
// may or may not have seen the change, and the tick waiting in the buffer
// makes the next check, which will.
func lastTick(ticks chan time.Time) {
	select {
	case ticks <- time.Time{}:
	default:
	}
}

// reloadFirstRule reloads e's config with its first rule allowing allow.
func reloadFirstRule(t *testing.T, e *env, allow config.Allow) {
	t.Helper()
	next := *e.cfg
	next.Rules = slices.Clone(e.cfg.Rules)
	next.Rules[0].Allow = allow
	if err := e.gw.Reload(&next); err != nil {
		t.Fatal(err)
	}
}

func wantClosed(t *testing.T, conn net.Conn, br *bufio.Reader) {
	t.Helper()
	_, err := br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the WebSocket tunnel stayed open after its session ended")
	}
	if err == nil {
		t.Fatal("the WebSocket tunnel still carries data after its session ended")
	}
}

// SECURITY.md A137: a WebSocket tunnel outlives its handshake, so signing out
// (or a revocation, or a re-login) must close it, not only its session's
// absolute expiry days later. Before, a signed-out user, or whoever held the
// open socket, kept the tunnel to the upstream for the rest of the session's
// lifetime.
func TestSignOutClosesOpenWebSocket(t *testing.T) {
	ticks := make(chan time.Time, 1)
	e := newEnv(t, envOptions{redis: testpeers.Redis(t), upstreams: fmt.Sprintf("  - {path: /, url: %q}\n", wsUpstream(t).URL), tunnelChecks: ticks})
	c := e.client()
	e.oidcLogin(c, "/")
	conn, br := openTunnel(t, e, c)

	checksKeepTunnel(t, ticks, conn, br)

	e.signOut(c)
	lastTick(ticks)
	wantClosed(t, conn, br)
	if !strings.Contains(e.logs.String(), `"msg":"websocket closed"`) {
		t.Fatal("closing the tunnel was not logged")
	}
}

// A reload that takes the tunnel's path away from the user closes it at the
// next check, as it refuses the user's next request (cookie sessions too).
func TestReloadDenyingPathClosesOpenWebSocket(t *testing.T) {
	ticks := make(chan time.Time, 1)
	e := newEnv(t, envOptions{
		rules:        "  - {name: ws, prefix: /ws, allow: {users: [alice]}}\n",
		upstreams:    fmt.Sprintf("  - {path: /, url: %q}\n", wsUpstream(t).URL),
		tunnelChecks: ticks,
	})
	c := e.client()
	e.oidcLogin(c, "/ws")
	conn, br := openTunnel(t, e, c)
	checksKeepTunnel(t, ticks, conn, br)

	reloadFirstRule(t, e, config.Allow{Users: []string{"bob"}})
	lastTick(ticks)
	wantClosed(t, conn, br)
}

// Tunnels opened without a session (anonymous on a public path, or with a
// bearer token) are judged again too: a reload that makes the path private
// closes an anonymous tunnel at the next check. Before, only tunnels with a
// session were watched, so an anonymous one stayed open for good.
func TestReloadClosesAnonymousWebSocket(t *testing.T) {
	ticks := make(chan time.Time, 1)
	e := newEnv(t, envOptions{
		rules:        "  - {name: ws, prefix: /ws, allow: public}\n",
		upstreams:    fmt.Sprintf("  - {path: /, url: %q}\n", wsUpstream(t).URL),
		tunnelChecks: ticks,
	})
	conn, br := openTunnel(t, e, e.client()) // no session: anonymous
	checksKeepTunnel(t, ticks, conn, br)

	reloadFirstRule(t, e, config.Allow{Authenticated: true})
	lastTick(ticks)
	wantClosed(t, conn, br)
}
