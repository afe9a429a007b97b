// Package e2e runs the gatehouse binary as a user would: built from
// ./cmd/gatehouse, configured with a file, in front of a real upstream, with a
// real OpenID Connect provider (see internal/testpeers and scripts/peers.sh).
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

var gatehouseBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatehouseBin = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", gatehouseBin, "../cmd/gatehouse")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gatehouse:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running gatehouse.
type process struct {
	cmd      *exec.Cmd
	stopOnce sync.Once
	addr     string
	mu       sync.Mutex
	stdout   strings.Builder
	stderr   strings.Builder
	lines    chan string
}

// start runs gatehouse with args and stops it when the test ends.
func start(t *testing.T, addr string, args ...string) *process {
	t.Helper()
	p := &process{addr: addr, lines: make(chan string, 64)}
	p.cmd = exec.Command(gatehouseBin, args...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, b: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		p.stopOnce.Do(func() {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		})
		if t.Failed() {
			p.mu.Lock()
			t.Logf("gatehouse stderr:\n%s", p.stderr.String())
			p.mu.Unlock()
		}
	})
	p.waitReady(t)
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *process) url(path string) string { return "http://" + p.addr + path }

// waitReady polls /ping until it answers or a deadline passes.
func (p *process) waitReady(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url("/ping"), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gatehouse did not come up on %s; stderr:\n%s", p.addr, p.logs())
		case <-tick.C:
		}
	}
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testpeers.FreePort(t))
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type syncMutex = sync.Mutex

// stop ends gatehouse gracefully (SIGTERM) and waits, so every log line it
// buffered has been written before the test reads p.logs().
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	})
}

// localHash is the argon2id hash of localPassword, for users files.
const (
	localHash     = "$argon2id$v=19$m=65536,t=3,p=2$yecPvGLSV3d1fnmE+51ROg$3j+w6Yamd1UcyJR6iVGWFcviPUIx8TCsCBR4MSo8cCk"
	localPassword = "password123"
)

// localConfig is a serve config listening on addr with one local provider
// (users.yaml beside the config), an upstream that is down (an allowed
// request answers 502) and rules, YAML list items ("  - {...}\n").
func localConfig(addr, rules string) string {
	return `
server: {listen: "` + addr + `"}
session: {secrets: ["0123456789abcdef0123456789abcdef"], cookie: {secure: false}}
providers: [{id: local, type: local, users_file: users.yaml}]
upstreams: [{path: /, url: "http://127.0.0.1:1"}]
rules:
` + rules
}

// localSignIn signs user in through gatehouse's local form and returns the
// browser-like client (cookie jar, redirects not followed) holding the session.
func localSignIn(t *testing.T, p *process, user, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(p.url("/oauth2/sign_in"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(readAll(t, resp.Body))
	resp.Body.Close()
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	resp, err = c.PostForm(p.url("/oauth2/sign_in"), url.Values{"csrf": {m[1]}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("local sign-in as %s: %d", user, resp.StatusCode)
	}
	return c
}

// apiStatus is the status of a JSON GET of p's path with c.
func apiStatus(t *testing.T, c *http.Client, p *process, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.url(path), nil)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
