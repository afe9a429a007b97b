package proxy

import (
	"context"
	"errors"
	"fmt"
	"github.com/gatehouse-dev/gatehouse/headers"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/bearer"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/metrics"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/session"
)

// upstream is one configured backend with its own ReverseProxy.
type upstream struct {
	host   *policy.HostMatcher // nil = any host
	path   string              // prefix, "/" = all
	match  string              // path as compared: lower case unless case_sensitive_paths
	cfg    config.Upstream
	target *url.URL
	proxy  http.Handler
	demo   bool
}

// name identifies the upstream in metrics: its target's host:port.
func (up *upstream) name() string {
	if up.target == nil {
		return "demo"
	}
	return up.target.Host
}

// upstreams picks the upstream for a request: by host first (an exact host,
// then wildcards, the longest suffix first, then the any-host entries), then
// the longest path prefix. Hosts match as in rules (policy.HostMatcher).
type upstreams struct {
	list []*upstream
}

// proxyContext carries what Rewrite needs from the decision to the outbound request.
type proxyContext struct {
	gw        *Gateway
	who       *derived // nil for an anonymous caller
	sess      *session.Session
	path      string // normalised escaped path
	scheme    string
	trusted   bool
	bearer    bool   // the Authorization header was gatehouse's credential
	upstream  string // the upstream's name for metrics
	assertion string // signed X-Gatehouse-Assertion, or ""
}

func newUpstreams(cfg *config.Config, demo http.Handler) (*upstreams, error) {
	u := &upstreams{}
	if demo != nil {
		u.list = append(u.list, &upstream{path: "/", match: "/", proxy: demo, demo: true})
		return u, nil
	}
	transports := map[time.Duration]*http.Transport{}
	cookiePrefix := session.CookieName(cfg.Session.Cookie)
	for i, uc := range cfg.Upstreams {
		target, err := url.Parse(uc.URL)
		if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
			return nil, fmt.Errorf("proxy: upstreams[%d].url %q is not an absolute http(s) URL", i, uc.URL)
		}
		up := &upstream{path: uc.Path, cfg: uc, target: target}
		if uc.Host != "" {
			m, err := policy.NewHostMatcher(uc.Host)
			if err != nil {
				return nil, fmt.Errorf("proxy: upstreams[%d].host: %w", i, err)
			}
			up.host = &m
		}
		if up.path == "" {
			up.path = "/"
		}
		// Prefixes compare as rules compare paths (lower case unless
		// case_sensitive_paths), so a request judged by a rule's path goes
		// to that path's upstream whatever its case.
		up.match = up.path
		if !cfg.CaseSensitivePaths {
			up.match = strings.ToLower(up.path)
		}
		timeout := uc.Timeout
		if timeout <= 0 {
			timeout = cfg.Server.UpstreamTimeout
		}
		if transports[timeout] == nil {
			transports[timeout] = newTransport(timeout)
		}
		up.proxy = &httputil.ReverseProxy{
			Rewrite:        up.rewrite(cookiePrefix),
			Transport:      transports[timeout],
			FlushInterval:  uc.FlushInterval,
			ErrorHandler:   upstreamError,
			ModifyResponse: filterUpstreamResponse(cookiePrefix),
			BufferPool:     copyBuffers,
		}
		u.list = append(u.list, up)
	}
	sort.SliceStable(u.list, func(a, b int) bool {
		x, y := u.list[a], u.list[b]
		if hx, hy := hostRank(x.host), hostRank(y.host); hx != hy {
			return hx > hy
		}
		return len(x.path) > len(y.path)
	})
	return u, nil
}

// hasBearerAuthorization reports whether any Authorization line uses the
// Bearer scheme.
func hasBearerAuthorization(h http.Header) bool {
	return slices.ContainsFunc(h["Authorization"], bearer.IsBearer)
}

// hostRank orders upstream hosts from the most specific: exact hosts, then
// wildcards by the length of their suffix, then none.
func hostRank(m *policy.HostMatcher) int {
	switch {
	case m == nil:
		return 0
	case m.Wildcard():
		return 1 + m.Len()
	default:
		return 1 << 16 // above any suffix's length (host names are ≤ 253 bytes)
	}
}

func newTransport(responseTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = responseTimeout
	t.ExpectContinueTimeout = time.Second
	return t
}

// match returns the upstream for host (canonical, may carry a port) and a
// normalised path folded as the rules fold it (policy.Policy.FoldPath), or
// nil: an unknown host is never sent to a default upstream.
func (u *upstreams) match(host, path string) *upstream {
	// An upstream "/app/" takes the bare "/app" too, but one configured as
	// exactly "/app" (sorted after it, being shorter) comes first for it,
	// among upstreams of the same host.
	var bare *upstream
	for _, up := range u.list {
		if bare != nil && hostRank(up.host) < hostRank(bare.host) {
			break
		}
		if up.host != nil && !up.host.Match(host) || !pathHasPrefix(path, up.match) {
			continue
		}
		switch m := up.match; {
		case bare != nil:
			if m == path {
				return up
			}
		case len(m) > 1 && m[len(m)-1] == '/' && path == m[:len(m)-1]:
			bare = up
		default:
			return up
		}
	}
	return bare
}

// pathHasPrefix is a segment-aware prefix match, as a rule's prefix is: "/app"
// and "/app/" both match "/app", "/app/" and "/app/x", never "/apps".
func pathHasPrefix(path, prefix string) bool {
	if prefix == "/" || path == prefix {
		return true
	}
	p := strings.TrimSuffix(prefix, "/")
	return strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/')
}

func (up *upstream) rewrite(cookiePrefix string) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		pc := auditOf(pr.In.Context()).proxy
		out := pr.Out
		path := pc.path
		if up.cfg.StripPrefix && up.path != "/" {
			// match chose this upstream, so path begins with the prefix (in
			// any case when paths fold): cut as many bytes.
			path = path[len(strings.TrimSuffix(up.path, "/")):]
			if path == "" || path[0] != '/' {
				path = "/" + path
			}
		}
		setEscapedPath(out.URL, path)
		pr.SetURL(up.target)
		if up.cfg.PreserveHost {
			out.Host = pr.In.Host
		}
		headers.StripForwarding(out.Header, pc.trusted) // identity headers went at the door
		if pc.trusted {
			out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
		}
		pr.SetXForwarded()
		out.Header.Set("X-Forwarded-Proto", pc.scheme)
		removeGatewayCookies(out, cookiePrefix)
		if pc.bearer || up.cfg.PassIDToken || hasBearerAuthorization(out.Header) {
			// A bearer token is gatehouse's credential scheme: one it verified
			// was for gatehouse (the upstream gets the assertion), and one it
			// did not is a client's claim the upstream must not trust beside
			// the identity headers. With pass_id_token, Authorization is
			// gatehouse's to set alone. Other schemes (Basic) pass.
			out.Header.Del("Authorization")
		}
		if pc.who != nil {
			pc.who.hdr.SetIdentity(out.Header)
			if pc.assertion != "" {
				out.Header.Set(headers.Assertion, pc.assertion)
			}
			if pc.sess != nil && up.cfg.PassAccessToken && pc.sess.Tokens.AccessToken != "" {
				out.Header.Set(headers.AccessToken, pc.sess.Tokens.AccessToken)
			}
			if pc.sess != nil && up.cfg.PassIDToken && pc.sess.Tokens.IDToken != "" {
				out.Header.Set("Authorization", "Bearer "+pc.sess.Tokens.IDToken)
			}
		}
	}
}

// setEscapedPath sets u's path from the normalised escaped form, so the
// upstream receives byte for byte the path the rules judged.
func setEscapedPath(u *url.URL, escaped string) {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		p = escaped
	}
	u.Path = p
	u.RawPath = ""
	if u.EscapedPath() != escaped {
		u.RawPath = escaped
	}
}

// removeGatewayCookies keeps gatehouse's own cookies (session chunks, login
// state, CSRF) away from the upstream. It works on the header text: every
// other cookie is passed on as the client wrote it, and a request carrying
// none of gatehouse's cookies keeps its header untouched. Any part whose
// name (trimmed, as a cookie parser would) is gatehouse's goes, even one
// net/http would not parse, since the upstream's parser may be laxer.
func removeGatewayCookies(r *http.Request, prefix string) {
	lines := r.Header["Cookie"]
	base := trimCookiePrefix(prefix)
	found := false
	for _, line := range lines {
		if strings.Contains(line, base) {
			found = true
			break
		}
	}
	if !found {
		return
	}
	var b strings.Builder
	removed := false
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, _, _ := strings.Cut(part, "=")
			if isGatewayCookie(strings.TrimSpace(name), prefix) {
				removed = true
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
	}
	if !removed {
		return
	}
	if b.Len() == 0 {
		delete(r.Header, "Cookie")
		return
	}
	r.Header["Cookie"] = []string{b.String()}
}

// filterUpstreamResponse stops an upstream from setting gatehouse's cookies
// or speaking for gatehouse with identity headers.
func filterUpstreamResponse(cookiePrefix string) func(*http.Response) error {
	return func(resp *http.Response) error {
		h := resp.Header
		if sc := h.Values("Set-Cookie"); len(sc) > 0 {
			kept := sc[:0:0]
			for _, line := range sc {
				if isGatewayCookie(setCookieName(line), cookiePrefix) {
					continue
				}
				kept = append(kept, line)
			}
			h["Set-Cookie"] = kept
			if len(kept) == 0 {
				delete(h, "Set-Cookie")
			}
		}
		for k := range h {
			if headers.IsReserved(k) {
				delete(h, k)
			}
		}
		return nil
	}
}

// setCookieName is the name under which a browser sends back the cookie a
// Set-Cookie line sets. A nameless cookie ("=_gatehouse=x", or a pair
// without '=') is stored with an empty name and sent back as its bare value
// (RFC 6265bis §5.6, §5.7.4), so "_gatehouse=x" reaches the server as if it
// were a cookie named _gatehouse: its name is the value's up to its '='.
func setCookieName(line string) string {
	pair, _, _ := strings.Cut(line, ";")
	name, value, hasEq := strings.Cut(pair, "=")
	if !hasEq {
		name, value = "", name
	}
	if name = strings.TrimSpace(name); name == "" {
		name, _, _ = strings.Cut(value, "=")
		name = strings.TrimSpace(name)
	}
	return name
}

// upstreamError answers a failed upstream with a generic 502 (504 on a
// timeout); the upstream's address and the error text go only to the log.
func upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	pc := auditOf(r.Context()).proxy
	var g *Gateway
	if pc != nil {
		g = pc.gw
	}
	status, msg := http.StatusBadGateway, "The application is not responding. Please try again later."
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		status, msg = http.StatusGatewayTimeout, "The application took too long to respond."
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody will read the answer.
		status = 499
	}
	if g == nil {
		w.WriteHeader(status)
		return
	}
	if status == 499 {
		g.log.DebugContext(r.Context(), "client canceled", "request_id", requestID(r.Context()))
		return
	}
	g.opts.Metrics.UpstreamError(pc.upstream, metrics.UpstreamErrorKind(err))
	g.renderError(w, r, newHTTPError(status, msg, fmt.Errorf("upstream: %w", err)))
}

// copyBuffers recycles the 32 KiB buffers ReverseProxy copies bodies with;
// without it every proxied request allocates one.
var copyBuffers httputil.BufferPool = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }

// isGatewayCookie reports whether a cookie is one of gatehouse's: the
// session (and its chunks), CSRF and login-state cookies all start with the
// configured name, under whichever of the __Host-/__Secure- prefixes (login
// state is always host-only, the session may be __Secure- with a domain).
func isGatewayCookie(name, configured string) bool {
	return strings.HasPrefix(trimCookiePrefix(name), trimCookiePrefix(configured))
}

// trimCookiePrefix drops a __Host- or __Secure- prefix, in any case.
func trimCookiePrefix(s string) string {
	for _, p := range []string{"__Host-", "__Secure-"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return s[len(p):]
		}
	}
	return s
}
