package redirect

import (
	"net/url"
	"strings"
	"testing"
)

const testPublic = "https://auth.example.com"

var testAllowed = []string{".example.com", "app.other.org", "*.wild.net", "port.bar:8080"}

func TestCheckAccepts(t *testing.T) {
	v := New(testPublic, testAllowed)
	tests := []struct{ name, rd, want string }{
		{"root", "/", "/"},
		{"local path", "/app", "/app"},
		{"local with query and fragment", "/app/x?y=1#frag", "/app/x?y=1#frag"},
		{"query may hold a URL", "/app?next=https://evil.com", "/app?next=https://evil.com"},
		{"encoded space in path", "/a%20b", "/a%20b"},
		{"encoded unicode in path", "/%E3%80%82x", "/%E3%80%82x"},
		{"literal percent", "/report?q=100%25", "/report?q=100%25"},
		{"dots inside names", "/a/..b/c.d/...", "/a/..b/c.d/..."},
		{"public host", "https://auth.example.com/x", "https://auth.example.com/x"},
		{"subdomain", "https://app.example.com/x?y#z", "https://app.example.com/x?y#z"},
		{"deep subdomain", "https://a.b.example.com", "https://a.b.example.com"},
		{"apex of leading-dot entry", "https://example.com/", "https://example.com/"},
		{"canonicalised", "HTTPS://App.Example.COM./x", "https://app.example.com/x"},
		{"exact entry", "https://app.other.org/", "https://app.other.org/"},
		{"default port given", "https://app.other.org:443/", "https://app.other.org:443/"},
		{"wildcard subdomain", "https://x.wild.net/", "https://x.wild.net/"},
		{"entry port", "https://port.bar:8080/x", "https://port.bar:8080/x"},
		{"punycode subdomain of an allowed domain", "https://xn--80ak6aa92e.example.com/", "https://xn--80ak6aa92e.example.com/"},
		{"double slash in an absolute URL's path", "https://app.example.com//x", "https://app.example.com//x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := v.Check(tc.rd)
			if !ok || got != tc.want {
				t.Fatalf("Check(%q) = %q, %v; want %q, true", tc.rd, got, ok, tc.want)
			}
		})
	}
}

func TestCheckRejects(t *testing.T) {
	v := New(testPublic, testAllowed)
	tests := []struct{ name, rd string }{
		{"empty", ""},
		{"relative", "app"},
		{"query only", "?x=1"},
		{"fragment only", "#x"},
		{"A001 encoded backslash", "/%5Cevil.com"},
		{"A001 decoded", "/\\evil.com"},
		{"A003 tabs 1", "/\t\t/\t/evil.com"},
		{"A003 tabs 2", "/\t\t\\\t/evil.com"},
		{"A003 dot backslash", "/./\\evil.com"},
		{"A003 dots backslash", "/./../../\\evil.com"},
		{"A003 tab backslash", "/\t/\t\\evil.com"},
		{"A003 encoded tabs", "/%09%09/%09/evil.com"},
		{"dot slash", "/.//evil.com"},
		{"dotdot slash", "/..//evil.com"},
		{"A009 ideographic full stop", "//google%E3%80%82com"},
		{"A009 U+3031", "\u3031google.com"},
		{"A009 U+FF70", "\uff70google.com"},
		{"A009 NUL", "//google%00.com"},
		{"A013 evil", "https://evil.com"},
		{"A015 downgrade", "http://app.example.com/"},
		{"A015 downgrade public", "http://auth.example.com/"},
		{"scheme-relative", "//evil.com"},
		{"scheme-relative allowed host", "//app.example.com/x"},
		{"slash backslash", "/\\evil.com"},
		{"encoded slash", "/%2Fevil.com"},
		{"encoded slash lower", "/%2fevil.com"},
		{"both encoded", "%2F%2Fevil.com"},
		{"double encoded", "/%252F%252Fevil.com"},
		{"double encoded backslash", "/%255Cevil.com"},
		{"opaque https", "https:evil.com"},
		{"one slash https", "https:/evil.com"},
		{"three slashes", "https:///evil.com"},
		{"userinfo", "https://a@evil.com"},
		{"userinfo to allowed host", "https://user:pw@app.example.com/"},
		{"allowed host as userinfo", "https://app.example.com@evil.com/"},
		{"backslash in path", "https://app.example.com\\@evil.com"},
		{"backslash in query", "/x?y=\\z"},
		{"encoded backslash in absolute path", "https://app.example.com/%5C"},
		{"double-encoded backslash in absolute path", "https://app.example.com/%255C"},
		{"double-encoded newline in absolute query", "https://app.example.com/x?y=%250A"},
		{"encoded newline", "/x%0D%0ASet-Cookie:a=b"},
		{"javascript", "javascript:alert(1)"},
		{"javascript upper", "JAVASCRIPT:alert(1)"},
		{"data", "data:text/html,<script>alert(1)</script>"},
		{"ftp", "ftp://app.example.com/"},
		{"numeric IP", "https://2130706433/"},
		{"hex IP", "https://0x7f.1/"},
		{"octal IP", "https://0177.0.0.1/"},
		{"dotted IP", "https://127.0.0.1/"},
		{"IPv6", "https://[::1]/"},
		{"lookalike punycode", "https://xn--exmple-cua.com/"},
		{"lookalike cyrillic", "https://ex\u0430mple.com/"},
		{"suffix trick", "https://example.com.evil.com/"},
		{"partial label", "https://evilexample.com/"},
		{"fragment trick", "https://evil.com#.example.com"},
		{"query trick", "https://evil.com?.example.com"},
		{"backslash trick", "https://evil.com\\.example.com"},
		{"encoded dot host", "https://evil%2Ecom/"},
		{"empty label", "https://.example.com/"},
		{"double trailing dot", "https://app.example.com../"},
		{"empty host", "https://"},
		{"empty host with path", "https:///x"},
		{"wildcard entry excludes apex", "https://wild.net/"},
		{"port not allowed", "https://app.example.com:8443/"},
		{"A007 entry port mismatch", "https://port.bar:3838/"},
		{"A007 entry port missing", "https://port.bar/"},
		{"empty port", "https://app.example.com:/"},
		{"leading zero port", "https://app.example.com:0443/"},
		{"huge port", "https://app.example.com:99999/"},
		{"leading space", " /app"},
		{"trailing space", "/app "},
		{"trailing newline", "/app\n"},
		{"non-breaking space", "/app\u00a0"},
		{"malformed escape", "/app%zz"},
		{"too long", "/" + strings.Repeat("a", MaxLength)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := v.Check(tc.rd); ok {
				t.Fatalf("Check(%q) = %q, true; want rejected", tc.rd, got)
			}
		})
	}
}

func TestMaxLength(t *testing.T) {
	v := New(testPublic, testAllowed)
	rd := "/" + strings.Repeat("a", MaxLength-1)
	if _, ok := v.Check(rd); !ok {
		t.Errorf("a %d-byte path was rejected", len(rd))
	}
}

// TestOAuth2ProxyAdvisories replays the allowlist shapes of A005 and A007.
func TestOAuth2ProxyAdvisories(t *testing.T) {
	v := New("http://gw.local", []string{".bar.foo", "foo.bar", "port.bar:8080"})
	for _, rd := range []string{
		"http://evilbar.foo/redirect",   // A005
		"http://foo.bar:3838/redirect",  // A007
		"http://port.bar:3838/redirect", // A007
		"http://bar.foo.evil.com/",      // suffix
		"http://foo.bar.evil.com/",      // suffix
		"http://gw.local:8080/",         // public host, foreign port
		"http://gw.local.evil.com/",     // suffix of the public host
		"https://foo.bar:80/redirect",   // default port of the other scheme
	} {
		if got, ok := v.Check(rd); ok {
			t.Errorf("Check(%q) = %q, true; want rejected", rd, got)
		}
	}
	for _, rd := range []string{"http://bar.foo/", "http://a.bar.foo/", "http://foo.bar/", "https://foo.bar/", "http://port.bar:8080/", "http://gw.local/x"} {
		if _, ok := v.Check(rd); !ok {
			t.Errorf("Check(%q) rejected; want accepted", rd)
		}
	}
}

func TestPublicPort(t *testing.T) {
	v := New("https://Auth.Example.com:8443/", nil)
	for rd, want := range map[string]bool{
		"https://auth.example.com:8443/x": true,
		"https://auth.example.com/x":      true,
		"https://auth.example.com:443/x":  true,
		"https://auth.example.com:9443/x": false,
		"https://app.example.com/x":       false,
	} {
		if _, ok := v.Check(rd); ok != want {
			t.Errorf("Check(%q) ok = %v, want %v", rd, ok, want)
		}
	}
}

func TestUnusablePublicURL(t *testing.T) {
	v := New("::not a url", []string{"https://x.example.com", "a@b.com", "ok.example.com"})
	if _, ok := v.Check("/x"); !ok {
		t.Error("local path rejected")
	}
	if _, ok := v.Check("https://x.example.com/"); ok {
		t.Error("a malformed entry was honoured")
	}
	if _, ok := v.Check("https://ok.example.com/"); !ok {
		t.Error("a well-formed entry was ignored")
	}
}

// allowedOracle is FuzzCheck's independent statement of what may be accepted.
func allowedOracle(target string) bool {
	if target == "/" {
		return true
	}
	if strings.HasPrefix(target, "/") {
		return target[1] != '/' && target[1] != '\\'
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Scheme != "https" || u.Opaque != "" {
		return false
	}
	h, p := u.Hostname(), u.Port()
	switch {
	case h == "auth.example.com" || h == "example.com" || strings.HasSuffix(h, ".example.com"):
		return p == "" || p == "443"
	case h == "app.other.org":
		return p == "" || p == "443"
	case strings.HasSuffix(h, ".wild.net"):
		return p == "" || p == "443"
	case h == "port.bar":
		return p == "8080"
	}
	return false
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"/", "/app", "//evil.com", "/\\evil.com", "/%2F%2Fevil.com", "https://app.example.com/x",
		"https://evil.com#.example.com", "HTTPS://App.Example.COM./", "https://a@evil.com", "/%252F",
		"https://port.bar:8080/", "javascript:alert(1)", "/\t/evil.com", "https://example.com.evil.com",
	} {
		f.Add(s)
	}
	v := New(testPublic, testAllowed)
	f.Fuzz(func(t *testing.T, rd string) {
		target, ok := v.Check(rd)
		if !ok {
			if target != "" {
				t.Fatalf("Check(%q) rejected but returned %q", rd, target)
			}
			return
		}
		if !allowedOracle(target) {
			t.Fatalf("Check(%q) accepted %q", rd, target)
		}
		if again, ok := v.Check(target); !ok || again != target {
			t.Fatalf("Check(%q) = %q, but Check(%q) = %q, %v", rd, target, target, again, ok)
		}
	})
}
