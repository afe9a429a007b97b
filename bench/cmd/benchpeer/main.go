// Command benchpeer is the load harness's stand-in for everything around
// gatehouse, and the bare baselines gatehouse is compared with:
//
//	benchpeer upstream -listen ADDR                 a tiny app: 200 with a fixed 100-byte body
//	benchpeer revproxy -listen ADDR -upstream URL   a bare, tuned httputil.ReverseProxy in front of it
//	                   [-buffer-pool]                 … reusing its 32 KiB copy buffers, as gatehouse does
//	benchpeer accept   -listen ADDR                 a bare net/http handler answering 202
//	benchpeer issuer   -listen ADDR -token-out F    a JWT issuer (JWKS on loopback) and one signed token
//	benchpeer freeport [-n N]                       prints N free loopback ports, one a line
//
// Servers listen on loopback only (the address must be a 127.0.0.1 one) and
// run until killed. They log nothing per request.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// body is the upstream's answer: exactly 100 bytes.
var body = []byte(strings.Repeat("gatehouse bench upstream body ", 4)[:99] + "\n")

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "upstream", "accept", "revproxy":
		err = serve(os.Args[1], os.Args[2:])
	case "issuer":
		err = issuer(os.Args[2:])
	case "freeport":
		err = freePorts(os.Args[2:], os.Stdout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchpeer upstream|accept|revproxy|issuer|freeport [flags]")
	os.Exit(2)
}

func serve(mode string, args []string) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	upstream := fs.String("upstream", "", "revproxy: the upstream URL")
	idle := fs.Int("idle", 256, "revproxy: keep-alive connections kept per upstream host")
	pooled := fs.Bool("buffer-pool", false, "revproxy: reuse the 32 KiB body copy buffers (gatehouse does; ReverseProxy's default allocates one per request)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || host != "127.0.0.1" {
		return fmt.Errorf("-listen %q: want 127.0.0.1:PORT", *listen)
	}
	var h http.Handler
	switch mode {
	case "upstream":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(body)
		})
	case "accept":
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
		})
	case "revproxy":
		p, err := reverseProxy(*upstream, *idle, *pooled)
		if err != nil {
			return err
		}
		h = p
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	return srv.Serve(ln)
}

// reverseProxy is the bare baseline: Rewrite (SetURL + SetXForwarded, what
// any real proxy does at least) and a transport whose keep-alive pool is
// sized for the load, as gatehouse's is. With pooled, it also reuses its
// body copy buffers as gatehouse does: the harness shows that row too, so
// what gatehouse gains from its pool is not mistaken for what its
// authentication costs.
func reverseProxy(upstream string, idle int, pooled bool) (*httputil.ReverseProxy, error) {
	target, err := url.Parse(upstream)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("-upstream %q: want an absolute http URL", upstream)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * idle
	t.MaxIdleConnsPerHost = idle
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: t,
	}
	if pooled {
		p.BufferPool = &copyBuffers{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	}
	return p, nil
}

// copyBuffers is the same buffer pool as gatehouse's (proxy/upstream.go).
type copyBuffers struct{ p sync.Pool }

func (c *copyBuffers) Get() []byte  { return *c.p.Get().(*[]byte) }
func (c *copyBuffers) Put(b []byte) { c.p.Put(&b) }

// freePorts prints n ports that were free on 127.0.0.1 a moment ago: all n
// listeners are open at once, so the ports are distinct.
func freePorts(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("freeport", flag.ContinueOnError)
	n := fs.Int("n", 1, "how many ports")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range *n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("free port: %w", err)
		}
		lns = append(lns, ln)
		fmt.Fprintln(w, ln.Addr().(*net.TCPAddr).Port)
	}
	return nil
}
