package proxy

import (
	"errors"
	"github.com/gatehouse-dev/gatehouse/forwarded"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"unicode"
)

// wireValue returns v as net/http's server would hand it to a handler (outer
// spaces and tabs trimmed), and false when the server would have refused the
// request line (control characters other than HTAB, DEL): the fuzz targets
// only build requests that can arrive from a socket.
func wireValue(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "", false
		}
	}
	v = strings.Trim(v, " \t")
	return v, v != ""
}

func setWire(h http.Header, k, v string) {
	if v, ok := wireValue(v); ok {
		h.Add(k, v)
	}
}

// unsafeHost reports what a host taken from forwarded metadata must never
// contain: a path or backslash, userinfo, whitespace of any kind, or a
// control character.
func unsafeHost(h string) bool {
	return strings.ContainsAny(h, "/\\@") || strings.ContainsFunc(h, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

var fuzzTrusted = forwarded.New([]netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"),
})

// FuzzOriginalRequest fuzzes the forwarded metadata forward-auth judges
// (X-Forwarded-Method/Proto/Host/Uri, ingress-nginx's X-Original-URL and
// X-Original-Method) from a trusted and an untrusted peer. originalRequest
// must never panic; it fails only with errForwarded; what it returns has
// scheme http or https, a uri starting with '/', and a host without '/',
// '\\', '@', whitespace or control characters. From an untrusted peer the
// headers change nothing: the forward-auth request itself is judged.
func FuzzOriginalRequest(f *testing.F) {
	g := &Gateway{log: slog.New(slog.DiscardHandler)}
	st := &state{trusted: fuzzTrusted}
	type seed struct {
		trusted                                  bool
		method, proto, host, uri, orig, origMeth string
	}
	for _, s := range []seed{
		{true, "GET", "https", "app.example.com", "/x?y=1", "", ""},
		{false, "GET", "https", "otherhost.com", "/otherpath", "", ""},
		{true, "GET", "", "", "", "https://app.example.com/a/b?c", "POST"},
		{true, "GET", "http", "app.example.com:8443", "//evil.com", "", ""},
		{true, "get", "HTTPS ", "evil.com/x", "/", "", ""},
		{true, "GET", "", "a@b", "/", "", ""},
		{true, "GET", "", "a\\b", "/", "", ""},
		{true, "GET", "", "a b", "/", "", ""},
		{true, "GET", "", "a\u00a0b", "/", "", ""},
		{true, "GET", "", "a\u2028b", "/", "", ""},
		{true, "GET", "", "app.example.com", "x", "", ""},
		{true, "GET", "", "app.example.com", "%2F", "", ""},
		{true, "", "", "", "", "http://a%C2%A0b/x", ""},
		{true, "", "", "", "", "http://user@app.example.com/x", ""},
		{true, "", "", "", "", "http://[::1%25eth0]:80/x", ""},
		{true, "", "", "", "", "http://app.example.com", ""},
		{true, "", "", "", "", "http://app.example.com?x", ""},
		{true, "", "", "", "", "javascript://app.example.com/%0aalert(1)", ""},
		{true, "", "", "", "", "//app.example.com/x", ""},
		{true, "", "", "", "", "http:app.example.com", ""},
		{true, "", "", "", "", "https://app.example.com\\@evil.com/", ""},
		{false, "", "", "", "", "https://evil.example.com/admin", "DELETE"},
	} {
		f.Add(s.trusted, s.method, s.proto, s.host, s.uri, s.orig, s.origMeth)
	}
	f.Fuzz(func(t *testing.T, trusted bool, method, proto, host, uri, orig, origMethod string) {
		r := httptest.NewRequest(http.MethodGet, "http://auth.example.com/oauth2/auth", nil)
		r.RemoteAddr = "203.0.113.7:40000"
		if trusted {
			r.RemoteAddr = "127.0.0.1:40000"
		}
		setWire(r.Header, "X-Forwarded-Method", method)
		setWire(r.Header, "X-Forwarded-Proto", proto)
		setWire(r.Header, "X-Forwarded-Host", host)
		setWire(r.Header, "X-Forwarded-Uri", uri)
		setWire(r.Header, "X-Original-URL", orig)
		setWire(r.Header, "X-Original-Method", origMethod)
		o, err := g.originalRequest(r, st.trusted.PeerTrusted(r))
		if err != nil {
			if !errors.Is(err, errForwarded) {
				t.Fatalf("originalRequest(%v): error %v does not wrap errForwarded", r.Header, err)
			}
			return
		}
		if !trusted {
			want := originalRequest{method: http.MethodGet, scheme: "http", host: "auth.example.com", uri: "/oauth2/auth"}
			if o != want {
				t.Fatalf("untrusted peer's headers %v changed the judged request to %+v", r.Header, o)
			}
			return
		}
		if o.scheme != "http" && o.scheme != "https" {
			t.Fatalf("originalRequest(%v): scheme %q", r.Header, o.scheme)
		}
		if o.uri == "" || o.uri[0] != '/' {
			t.Fatalf("originalRequest(%v): uri %q does not start with '/'", r.Header, o.uri)
		}
		if o.host == "" || unsafeHost(o.host) {
			t.Fatalf("originalRequest(%v): unsafe host %q", r.Header, o.host)
		}
	})
}
