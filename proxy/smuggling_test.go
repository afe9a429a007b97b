package proxy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// smuggleRules: /public is open, /admin and everything else need a sign-in,
// so a request for /admin that reaches the upstream got past the rules.
const smuggleRules = `  - {name: public, prefix: /public, allow: public}
  - {name: admin, prefix: /admin, allow: {emails: [root@example.com]}}
  - {name: rest, prefix: /, allow: authenticated}
`

// smuggleSeen is one request as the upstream parsed it.
type smuggleSeen struct {
	method, path string
	header       http.Header
	body         string
}

// smuggleUpstream records every request it parses, and every byte it reads
// off the wire, so a test can check both what a Go upstream understood and
// the framing any other upstream parser would have been given.
type smuggleUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []smuggleSeen
	raw  bytes.Buffer
}

func newSmuggleUpstream(t *testing.T) *smuggleUpstream {
	t.Helper()
	u := &smuggleUpstream{}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			// A body the upstream cannot read is still a request it got.
			b = append(b, "<read error: "+err.Error()+">"...)
		}
		u.mu.Lock()
		u.seen = append(u.seen, smuggleSeen{r.Method, r.URL.Path, r.Header.Clone(), string(b)})
		u.mu.Unlock()
		_, _ = io.WriteString(w, "upstream-ok")
	}))
	u.srv.Listener = &teeListener{Listener: u.srv.Listener, u: u}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

// reset forgets what earlier subtests sent; subtests run one at a time.
func (u *smuggleUpstream) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen, u.raw = nil, bytes.Buffer{}
}

func (u *smuggleUpstream) snapshot() ([]smuggleSeen, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]smuggleSeen(nil), u.seen...), u.raw.String()
}

type teeListener struct {
	net.Listener
	u *smuggleUpstream
}

func (l *teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &teeConn{Conn: c, u: l.u}, nil
}

type teeConn struct {
	net.Conn
	u *smuggleUpstream
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.u.mu.Lock()
	c.u.raw.Write(p[:n])
	c.u.mu.Unlock()
	return n, err
}

// newSmuggleEnv is a gateway (served with the production server limits)
// in front of a recording upstream; it returns the gateway's address.
func newSmuggleEnv(t *testing.T) (*smuggleUpstream, string) {
	t.Helper()
	up := newSmuggleUpstream(t)
	e := newEnv(t, envOptions{rules: smuggleRules, upstreams: fmt.Sprintf("  - {path: /, url: %q}\n", up.srv.URL)})
	return up, serveLike(t, e, nil)
}

// sendRaw writes payload to the gateway in one write (so the server reads
// it, pipelined requests included, as one burst) and returns a reader for
// the answers. The deadline only bounds a hang; no test waits on it.
func sendRaw(t *testing.T, addr, payload string) *bufio.Reader {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, payload); err != nil {
		t.Fatal(err)
	}
	return bufio.NewReader(conn)
}

// readAnswer reads the next response and its whole body; closed reports
// that the gateway hung up instead of answering.
func readAnswer(t *testing.T, br *bufio.Reader) (resp *http.Response, closed bool) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		if isHangUp(err) {
			return nil, true
		}
		t.Fatalf("reading the gateway's answer: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil && !isHangUp(err) {
		t.Fatalf("reading the gateway's answer body: %v", err)
	}
	resp.Body.Close()
	return resp, false
}

// isHangUp: the gateway closed the connection (FIN, or RST when it closed
// with our pipelined bytes unread).
func isHangUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// framing returns the Content-Length and Transfer-Encoding header lines of
// the first request head in raw, exactly as they were on the wire.
func framing(raw string) (cl, te []string) {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		k, v, _ := strings.Cut(line, ":")
		switch strings.ToLower(k) {
		case "content-length":
			cl = append(cl, strings.TrimSpace(v))
		case "transfer-encoding":
			te = append(te, strings.TrimSpace(v))
		}
	}
	return cl, te
}

// TestSmugglingCLTE sends the classic desync payloads (RFC 9112 §11.2):
// Transfer-Encoding and Content-Length that disagree about where the body
// ends, with a request for /admin hidden where the other reading sees the
// next request. The gateway may refuse (400) or take one reading and keep
// to it: then exactly one request reaches the upstream, its body is what
// the chunked coding says, it is re-framed with a single length header,
// and whatever follows on the connection is a new request judged by the
// rules. /admin must never reach the upstream.
func TestSmugglingCLTE(t *testing.T) {
	up, addr := newSmuggleEnv(t)
	host := "Host: " + addr + "\r\n"
	admin := "GET /admin HTTP/1.1\r\n" + host + "\r\n"
	// The request that ends the exchange, so the gateway closes afterwards.
	last := "GET /admin HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n"
	teCL := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(admin), admin)

	tests := []struct {
		name    string
		payload string
		// wantBody is the body the upstream must see if the gateway
		// forwards the POST: in HTTP/1.1 the chunked body, never the
		// Content-Length one (RFC 9112 §6.3: Transfer-Encoding wins).
		wantBody string
	}{
		{
			// A Content-Length reader takes "0…/admin…" as the body; a
			// chunked reader sees an empty body and then GET /admin.
			name: "CL.TE: chunked body ends early, /admin after it",
			payload: "POST /public HTTP/1.1\r\n" + host + "Content-Length: " + strconv.Itoa(len("0\r\n\r\n"+last)) +
				"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + last,
			wantBody: "",
		},
		{
			name: "CL.TE with Transfer-Encoding before Content-Length",
			payload: "POST /public HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: " +
				strconv.Itoa(len("0\r\n\r\n"+last)) + "\r\n\r\n0\r\n\r\n" + last,
			wantBody: "",
		},
		{
			// A Content-Length reader stops after the chunk size line and
			// sees "GET /admin" as the next request; a chunked reader has
			// it as body bytes.
			name: "TE.CL: /admin inside a chunk, Content-Length stops before it",
			payload: "POST /public HTTP/1.1\r\n" + host + "Content-Length: " + strconv.Itoa(len(fmt.Sprintf("%x\r\n", len(admin)))) +
				"\r\nTransfer-Encoding: chunked\r\n\r\n" + teCL + last,
			wantBody: admin,
		},
		{
			name: "TE.CL with a Content-Length longer than the chunked body",
			payload: "POST /public HTTP/1.1\r\n" + host + "Content-Length: 4096\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5\r\nhello\r\n0\r\n\r\n" + last,
			wantBody: "hello",
		},
		{
			// Go ignores Transfer-Encoding in HTTP/1.0, which does not
			// define it, and reads the Content-Length; the connection ends
			// after the answer, so nothing after the body is a request.
			name: "HTTP/1.0 with both",
			payload: "POST /public HTTP/1.0\r\n" + host + "Content-Length: " + strconv.Itoa(len("0\r\n\r\n"+admin)) +
				"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + admin + last,
			wantBody: "0\r\n\r\n" + admin,
		},
		{
			// The same with keep-alive: RFC 9112 §6.1 wants the connection
			// closed; if it is kept, the bytes after the Content-Length
			// body are the next request, which the rules judge.
			name: "HTTP/1.0 keep-alive with both",
			payload: "POST /public HTTP/1.0\r\n" + host + "Connection: keep-alive\r\nContent-Length: " + strconv.Itoa(len("0\r\n\r\n")) +
				"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + last,
			wantBody: "0\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up.reset()
			br := sendRaw(t, addr, tt.payload)
			first, closed := readAnswer(t, br)
			if closed {
				t.Fatal("the gateway hung up without answering the POST")
			}
			seen, raw := up.snapshot()
			head, _, _ := strings.Cut(raw, "\r\n\r\n")
			t.Logf("POST: %d; forwarded %d requests, head %q", first.StatusCode, len(seen), head)
			switch first.StatusCode {
			case http.StatusBadRequest:
				if len(seen) != 0 {
					t.Fatalf("400, yet the upstream got %d requests: %+v", len(seen), seen)
				}
			case http.StatusOK:
				if len(seen) != 1 {
					t.Fatalf("upstream got %d requests, want exactly the POST: %+v", len(seen), seen)
				}
				if s := seen[0]; s.method != http.MethodPost || s.path != "/public" || s.body != tt.wantBody {
					t.Fatalf("upstream got %s %s body %q, want POST /public body %q", s.method, s.path, s.body, tt.wantBody)
				}
				// One framing header, matching the body: an upstream with
				// any parser reads the same single request.
				cl, te := framing(raw)
				switch {
				case len(cl)+len(te) != 1:
					t.Fatalf("forwarded head has Content-Length %q and Transfer-Encoding %q, want exactly one", cl, te)
				case len(te) == 1 && !strings.EqualFold(te[0], "chunked"):
					t.Fatalf("forwarded Transfer-Encoding %q", te[0])
				case len(cl) == 1 && cl[0] != strconv.Itoa(len(tt.wantBody)):
					t.Fatalf("forwarded Content-Length %s for a %d-byte body", cl[0], len(tt.wantBody))
				}
			default:
				t.Fatalf("POST answered %d, want 400 or the upstream's 200", first.StatusCode)
			}

			// Whatever the connection carries next is a request of its own:
			// judged by the rules (anonymous /admin: 302 to sign-in or 401),
			// or the gateway has hung up.
			for {
				next, closed := readAnswer(t, br)
				if closed {
					t.Logf("then the gateway closed the connection")
					break
				}
				t.Logf("the next request on the connection: %d", next.StatusCode)
				if next.StatusCode != http.StatusFound && next.StatusCode != http.StatusUnauthorized {
					t.Fatalf("the request after the POST got %d, want 302 or 401", next.StatusCode)
				}
			}
			seen, _ = up.snapshot()
			for _, s := range seen {
				if s.path != "/public" {
					t.Fatalf("the upstream got %s %s: a smuggled request passed the rules", s.method, s.path)
				}
			}
			if len(seen) > 1 {
				t.Fatalf("the upstream got %d requests, want at most the POST: %+v", len(seen), seen)
			}
		})
	}
}

// TestSmugglingAmbiguousFraming: framing that two parsers could read two
// ways is refused before any handler runs, and the connection is closed, so
// neither the request nor the /admin request behind it reaches the
// upstream. Go's server answers an unsupported Transfer-Encoding with 501
// (RFC 9112 §6.1: a transfer coding the server does not understand) and a
// malformed or conflicting Content-Length with 400.
func TestSmugglingAmbiguousFraming(t *testing.T) {
	up, addr := newSmuggleEnv(t)
	host := "Host: " + addr + "\r\n"
	behind := "GET /admin HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n"
	chunkedBody := "0\r\n\r\n"

	tests := []struct {
		name    string
		headers string
		body    string
		want    int
	}{
		{"Transfer-Encoding chunked, identity", "Transfer-Encoding: chunked, identity\r\n", chunkedBody, http.StatusNotImplemented},
		{"Transfer-Encoding identity, chunked", "Transfer-Encoding: identity, chunked\r\n", chunkedBody, http.StatusNotImplemented},
		{"Transfer-Encoding xchunked", "Transfer-Encoding: xchunked\r\n", chunkedBody, http.StatusNotImplemented},
		{"Transfer-Encoding chunked twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunkedBody, http.StatusNotImplemented},
		{"Transfer-Encoding xchunked with Content-Length", "Transfer-Encoding: xchunked\r\nContent-Length: 5\r\n", chunkedBody, http.StatusNotImplemented},
		{"Transfer-Encoding with a space before the colon", "Transfer-Encoding : chunked\r\n", chunkedBody, http.StatusBadRequest},
		{"two different Content-Lengths", "Content-Length: 5\r\nContent-Length: 6\r\n", "hello!", http.StatusBadRequest},
		{"two Content-Lengths in one line", "Content-Length: 5, 6\r\n", "hello!", http.StatusBadRequest},
		{"Content-Length with a sign", "Content-Length: +5\r\n", "hello", http.StatusBadRequest},
		{"different Content-Lengths with chunked", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\nContent-Length: 6\r\n", chunkedBody, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up.reset()
			br := sendRaw(t, addr, "POST /public HTTP/1.1\r\n"+host+tt.headers+"\r\n"+tt.body+behind)
			resp, closed := readAnswer(t, br)
			if closed {
				t.Fatal("the gateway hung up without answering")
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if _, closed := readAnswer(t, br); !closed {
				t.Fatal("the connection stayed open after the refusal: the bytes behind it were read as a request")
			}
			if seen, raw := up.snapshot(); len(seen) != 0 || raw != "" {
				t.Fatalf("the upstream got %d requests (%d bytes): %+v", len(seen), len(raw), seen)
			}
		})
	}
}

// TestSmugglingObsFold: a continuation line (obs-fold, RFC 9112 §5.2)
// must not become an identity header, neither at the gateway nor at the
// upstream. The gateway may refuse the request (400) or unfold the line
// into the previous header's value; then it forwards every header on one
// line, so no upstream parser, lenient or not, sees a folded identity
// header, and the identity headers themselves are the gateway's (none for
// an anonymous request).
func TestSmugglingObsFold(t *testing.T) {
	up, addr := newSmuggleEnv(t)
	host := "Host: " + addr + "\r\n"
	tests := []struct {
		name  string
		lines string // header lines after the request line
	}{
		{"space fold after a header", host + "X-Note: hi\r\n X-Forwarded-User: evil@x.test\r\n"},
		{"tab fold after a header", host + "X-Note: hi\r\n\tX-Forwarded-User: evil@x.test\r\n"},
		{"fold of another identity header", host + "X-Note: hi\r\n X-Auth-Request-User: evil@x.test\r\n"},
		{"fold in lower case", host + "X-Note: hi\r\n x-forwarded-user: evil@x.test\r\n"},
		{"fold continuing the identity header", host + "X-Forwarded-User: good\r\n evil@x.test\r\n"},
		{"fold continuing Host", host + " X-Forwarded-User: evil@x.test\r\n"},
		{"fold as the first header line", " X-Forwarded-User: evil@x.test\r\n" + host},
		{"two folds", host + "X-Note: hi\r\n X-Forwarded-User: evil@x.test\r\n X-Forwarded-Email: evil@x.test\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up.reset()
			br := sendRaw(t, addr, "GET /public HTTP/1.1\r\n"+tt.lines+"Connection: close\r\n\r\n")
			resp, closed := readAnswer(t, br)
			if closed {
				t.Fatal("the gateway hung up without answering")
			}
			seen, raw := up.snapshot()
			t.Logf("status %d; forwarded %q", resp.StatusCode, raw)
			switch resp.StatusCode {
			case http.StatusBadRequest:
				if len(seen) != 0 {
					t.Fatalf("400, yet the upstream got %+v", seen)
				}
				return
			case http.StatusOK:
			default:
				t.Fatalf("status %d, want 400 or the upstream's 200", resp.StatusCode)
			}
			if len(seen) != 1 || seen[0].path != "/public" {
				t.Fatalf("upstream got %+v, want one GET /public", seen)
			}
			// What a Go upstream parsed: no identity header from the client.
			for _, h := range spoofHeaders {
				if v := seen[0].header.Values(h); len(v) != 0 {
					t.Errorf("upstream parsed %s: %q", h, v)
				}
			}
			// What any upstream would parse: no continuation line on the
			// wire, and no line that starts with an identity header.
			head, _, _ := strings.Cut(raw, "\r\n\r\n")
			for _, line := range strings.Split(head, "\r\n")[1:] {
				if line != "" && (line[0] == ' ' || line[0] == '\t') {
					t.Errorf("forwarded a folded line %q", line)
				}
				for _, h := range spoofHeaders {
					if len(line) > len(h) && strings.EqualFold(line[:len(h)+1], h+":") {
						t.Errorf("forwarded identity header line %q", line)
					}
				}
			}
		})
	}
}
