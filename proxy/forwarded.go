package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// trustedProxies decides whose X-Forwarded-* headers are believed: only those
// of a socket peer inside a configured prefix.
type trustedProxies struct {
	prefixes []netip.Prefix
}

func newTrustedProxies(p []netip.Prefix) *trustedProxies { return &trustedProxies{prefixes: p} }

func peerAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, err2 := net.SplitHostPort(r.RemoteAddr)
		if err2 != nil {
			return netip.Addr{}, false
		}
		a, err3 := netip.ParseAddr(host)
		return a.Unmap(), err3 == nil
	}
	return ap.Addr().Unmap(), true
}

func (t *trustedProxies) trusts(a netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerTrusted reports whether the request's socket peer is a trusted proxy.
func (t *trustedProxies) peerTrusted(r *http.Request) bool {
	if len(t.prefixes) == 0 {
		return false
	}
	a, ok := peerAddr(r)
	return ok && t.trusts(a)
}

// clientIP is the address brute-force limits and logs use: the socket peer,
// or, when the peer is trusted, the right-most untrusted X-Forwarded-For entry.
func (t *trustedProxies) clientIP(r *http.Request) netip.Addr {
	a, ok := peerAddr(r)
	if !ok {
		return netip.Addr{}
	}
	if !t.trusts(a) {
		return a
	}
	xff := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(xff) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(xff[i]))
		if err != nil {
			return a
		}
		h = h.Unmap()
		if !t.trusts(h) {
			return h
		}
		a = h
	}
	return a
}

// publicURL is gatehouse's external origin, from server.public_url.
type publicURL struct {
	scheme string
	host   string // host[:port], lower-case
}

func (p publicURL) String() string { return p.scheme + "://" + p.host }

func parsePublicURL(raw, listen string) (publicURL, error) {
	if raw == "" {
		// No public URL: assume the listener, over plain HTTP (the demo).
		return publicURL{scheme: "http", host: strings.ToLower(listen)}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return publicURL{}, fmt.Errorf("proxy: public_url %q is not an absolute http(s) URL", raw)
	}
	return publicURL{scheme: u.Scheme, host: strings.ToLower(u.Host)}, nil
}

var errForwarded = errors.New("malformed forwarded metadata")

// originalRequest is what a request is about: for proxy mode the request
// itself, for forward-auth the request the ingress is asking about.
type originalRequest struct {
	method string
	scheme string
	host   string
	uri    string // escaped path plus optional ?query
}

// requestScheme is https when the connection is TLS or a trusted proxy says so.
func (t *trustedProxies) requestScheme(r *http.Request) string {
	if t.peerTrusted(r) {
		if p := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto"))); p == "https" || p == "http" {
			return p
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
