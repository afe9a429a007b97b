// Package forwarded decides which proxies' forwarding headers gatehouse
// believes, and what they say about the client: its address and scheme. A
// header like X-Forwarded-For is a claim anyone can make; only a socket peer
// inside a configured trusted prefix is believed.
package forwarded

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trusted decides whose X-Forwarded-* headers are believed: only those of a
// socket peer inside a configured prefix. It is immutable and safe for
// concurrent use.
type Trusted struct {
	prefixes []netip.Prefix
}

// New returns a Trusted for the given prefixes (none: trust nobody).
func New(p []netip.Prefix) *Trusted { return &Trusted{prefixes: p} }

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

func (t *Trusted) trusts(a netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PeerTrusted reports whether the request's socket peer is a trusted proxy.
func (t *Trusted) PeerTrusted(r *http.Request) bool {
	if len(t.prefixes) == 0 {
		return false
	}
	a, ok := peerAddr(r)
	return ok && t.trusts(a)
}

// ClientIP is the address brute-force limits and logs use: the socket peer,
// or, when the peer is trusted, the right-most untrusted X-Forwarded-For entry.
func (t *Trusted) ClientIP(r *http.Request) netip.Addr {
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

// Scheme is https when the connection is TLS or a trusted proxy says so.
func (t *Trusted) Scheme(r *http.Request) string {
	return SchemeOf(r, t.PeerTrusted(r))
}

// SchemeOf is Scheme for a caller that already knows whether the peer is
// trusted.
func SchemeOf(r *http.Request, peerTrusted bool) string {
	if peerTrusted {
		if v := r.Header["X-Forwarded-Proto"]; len(v) > 0 { // canonical key: no need for Get
			if p := strings.ToLower(strings.TrimSpace(v[0])); p == "https" || p == "http" {
				return p
			}
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// ValidHost accepts host[:port] made only of what host names, IPv4 and
// bracketed IPv6 literals use: letters, digits, '-', '.', ':', '[', ']'.
// Anything else (spaces of any kind, '/', '\\', '@', '%', '_') is malformed.
func ValidHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}
