package redirect

import (
	"strings"
	"testing"
)

// hostileCorpus builds redirect targets from categories of known attacks.
// Every one must be rejected by a validator for testPublic and testAllowed.
func hostileCorpus() map[string]string {
	corpus := map[string]string{} // target → category
	add := func(category string, targets ...string) {
		for _, s := range targets {
			if _, dup := corpus[s]; !dup {
				corpus[s] = category
			}
		}
	}

	// Hosts that are not allowed, and tricks that make one look allowed.
	hosts := []string{
		"evil.com", "evil.com:443", "EVIL.COM", "evil.com.",
		"example.com.evil.com", "app.example.com.evil.com", "auth.example.com.evil.com",
		"evilexample.com", "evil-example.com", "example.com-evil.com", "example.co", "other.org", "wild.net",
		"2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "017700000001", "127.1", "127.0.0.1", "0.0.0.0",
		"[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
		"xn--exmple-cua.com", "xn--e1awd7f.com", "ex\u0430mple.com", "\u0435xample.com", "example\u3002com", "example\uff0ecom",
		"evil.com#.example.com", "evil.com?.example.com", "evil.com\\.example.com", "evil.com/.example.com",
		"evil.com%23.example.com", "evil.com%3F.example.com", "evil.com%2F.example.com", "evil.com%5C.example.com",
		"evil.com%00.example.com", "evil.com;.example.com", "evil.com&.example.com", "evil.com%2Eexample.com",
		"app.example.com@evil.com", "app.example.com:443@evil.com", "user:pass@evil.com", "evil.com@app.example.com",
		".example.com", "-evil.example.com", "app.example.com..",
	}
	forms := []struct {
		category string
		build    func(h string) string
	}{
		{"scheme-relative", func(h string) string { return "//" + h }},
		{"scheme-relative", func(h string) string { return "///" + h }},
		{"scheme-relative", func(h string) string { return "////" + h + "/x" }},
		{"absolute", func(h string) string { return "https://" + h }},
		{"absolute", func(h string) string { return "https://" + h + "/x?y=1" }},
		{"absolute", func(h string) string { return "http://" + h + "/" }},
		{"scheme case", func(h string) string { return "HTTPS://" + h + "/" }},
		{"scheme case", func(h string) string { return "hTtPs://" + h + "/" }},
		{"opaque scheme", func(h string) string { return "https:" + h }},
		{"opaque scheme", func(h string) string { return "https:/" + h }},
		{"backslash", func(h string) string { return "https:\\\\" + h }},
		{"backslash", func(h string) string { return "/\\" + h }},
		{"backslash", func(h string) string { return "\\\\" + h }},
		{"backslash", func(h string) string { return "\\/" + h }},
		{"backslash", func(h string) string { return "/\\/" + h }},
		{"backslash", func(h string) string { return "/./\\" + h }},
		{"dot segments", func(h string) string { return "/.//" + h }},
		{"dot segments", func(h string) string { return "/../" + "/" + h }},
		{"encoded", func(h string) string { return "/%2F" + h }},
		{"encoded", func(h string) string { return "/%2f" + h }},
		{"encoded", func(h string) string { return "%2F%2F" + h }},
		{"encoded", func(h string) string { return "/%5C" + h }},
		{"encoded", func(h string) string { return "/%5c" + h }},
		{"encoded", func(h string) string { return "/%2E%2E//" + h }},
		{"encoded", func(h string) string { return "/%2e/%2F" + h }},
		{"encoded", func(h string) string { return "https%3A%2F%2F" + h }},
		{"encoded", func(h string) string { return "/%09/" + h }},
		{"encoded", func(h string) string { return "/%E3%80%80/" + h }},
		{"double-encoded", func(h string) string { return "/%252F" + h }},
		{"double-encoded", func(h string) string { return "/%255C" + h }},
		{"double-encoded", func(h string) string { return "/%25252F" + h }},
		{"double-encoded", func(h string) string { return "%252F%252F" + h }},
		{"whitespace", func(h string) string { return "/\t/" + h }},
		{"whitespace", func(h string) string { return " //" + h }},
		{"whitespace", func(h string) string { return "//" + h + " " }},
	}
	for _, h := range hosts {
		for _, f := range forms {
			add(f.category, f.build(h))
		}
	}

	// Whitespace and control characters at every position of benign and
	// hostile targets: raw whitespace is never accepted.
	spaces := []string{" ", "\t", "\n", "\r", "\x00", "\x0b", "\x0c", "\x1b", "\x7f", "\u00a0", "\u1680", "\u2000", "\u2028", "\u3000", "\ufeff"}
	for _, seed := range []string{"/ok", "//evil.com", "https://app.example.com/ok"} {
		for i := 0; i <= len(seed); i++ {
			for _, sp := range spaces {
				add("whitespace/control", seed[:i]+sp+seed[i:])
			}
		}
	}

	// Other schemes, in several cases, some dressed up.
	for _, s := range []string{
		"javascript:alert(1)", "javascript://%0aalert(1)", "javascript://app.example.com/%0aalert(1)",
		"data:text/html,<script>alert(1)</script>", "data:text/html;base64,PHNjcmlwdD4=",
		"vbscript:msgbox(1)", "ftp://app.example.com/", "file:///etc/passwd", "ws://app.example.com/",
		"wss://app.example.com/", "gopher://evil.com/", "jar:https://app.example.com/!/", "about:blank",
		"blob:https://app.example.com/x", "mailto:a@example.com", "view-source:https://app.example.com/",
		"intent://evil.com#Intent;end",
	} {
		add("other scheme", s, strings.ToUpper(s), mixedCase(s), "%20"+s, "/\\"+s)
	}

	// Downgrades: the public URL is https.
	add("downgrade", "http://app.example.com/", "http://auth.example.com/", "http://example.com/", "HTTP://app.other.org/")

	// Disallowed ports.
	add("port", "https://app.example.com:8443/", "https://auth.example.com:4180/", "https://app.other.org:80/",
		"https://port.bar/", "https://port.bar:8081/", "https://port.bar:08080/", "https://app.example.com:65536/")

	// Too long.
	add("length", "/"+strings.Repeat("a", MaxLength), "https://app.example.com/"+strings.Repeat("a", MaxLength))
	return corpus
}

func mixedCase(s string) string {
	b := []byte(s)
	for i := range b {
		if i%2 == 0 && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

func TestHostileCorpus(t *testing.T) {
	corpus := hostileCorpus()
	if len(corpus) < 500 {
		t.Fatalf("corpus has %d targets, want at least 500", len(corpus))
	}
	t.Logf("%d hostile targets", len(corpus))
	v := New(testPublic, testAllowed)
	for rd, category := range corpus {
		if got, ok := v.Check(rd); ok {
			t.Errorf("%s: Check(%q) = %q, true; want rejected", category, rd, got)
		}
	}
}
