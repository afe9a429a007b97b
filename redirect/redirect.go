// Package redirect is gatehouse's one open-redirect guard (RFC 9700 §2.1 and
// §4.11.1): every endpoint that sends a browser to a target taken from a
// request (rd, redirect, X-Auth-Request-Redirect, the target kept across a
// login) passes it through Validator.Check first.
package redirect

import (
	"net/url"
	"strings"
	"unicode"
)

// MaxLength is the longest redirect target Check accepts, in bytes.
const MaxLength = 2048

// maxDecodes bounds how many layers of percent-encoding Check peels off.
const maxDecodes = 4

// Validator checks redirect targets against the public URL and the allowed
// domains. It is immutable and safe for concurrent use.
type Validator struct {
	publicHost string // canonical host name of the public URL; "" when unusable
	publicPort string // its effective port
	httpsOnly  bool   // the public URL is https: absolute targets must be too
	entries    []entry
}

// entry is one allowed_redirect_domains item.
type entry struct {
	host       string // canonical, without leading "." or "*."
	subdomains bool   // ".d" and "*.d": any subdomain on a label boundary
	apex       bool   // the host itself ("d" and ".d"; not "*.d")
	port       string // "" = the scheme's default port only
}

// New returns a Validator for targets on publicURL's host and on
// allowedDomains. An entry is "app.example.com" (that host only),
// ".example.com" (example.com and every subdomain on a label boundary, never
// evilexample.com), or "*.example.com" (subdomains only), optionally with
// ":port".
//
// Ports: a target on an entry without a port must use the scheme's default
// port (given or not); on an entry with a port, exactly that port. A target on
// the public URL's host may use the default port or the public URL's own.
//
// When publicURL is https, absolute targets must be https too (no downgrade,
// SECURITY.md A015). An unparsable publicURL, and entries that are not host
// names (containing a scheme, path, '@', '%' or whitespace, say), are ignored:
// config validation reports them; here they only ever narrow what is allowed.
func New(publicURL string, allowedDomains []string) *Validator {
	v := &Validator{}
	if u, err := url.Parse(publicURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.User == nil {
		if h, ok := canonicalHostname(u.Hostname()); ok {
			v.publicHost = h
			v.publicPort = u.Port()
			if v.publicPort == "" {
				v.publicPort = defaultPort(u.Scheme)
			}
		}
		v.httpsOnly = u.Scheme == "https"
	}
	for _, d := range allowedDomains {
		e := entry{apex: true}
		switch {
		case strings.HasPrefix(d, "*."):
			d, e.subdomains, e.apex = d[2:], true, false
		case strings.HasPrefix(d, "."):
			d, e.subdomains = d[1:], true
		}
		host, port, ok := splitAuthority(d)
		if !ok {
			continue
		}
		if e.host, ok = canonicalHostname(host); !ok {
			continue
		}
		e.port = port
		v.entries = append(v.entries, e)
	}
	return v
}

// Check reports whether rd is a safe redirect target and returns it cleaned.
// It accepts only:
//   - a local absolute path: "/" or "/x…" where x is not '/' or '\'; and
//   - an absolute http(s) URL without userinfo whose host is the public URL's
//     host or an allowed domain (see New), returned with its scheme and host
//     lower-cased and the host's trailing dot removed.
//
// It rejects anything longer than MaxLength bytes, anything holding a byte
// outside printable ASCII (so every control character, space, tab, CR, LF and
// Unicode space or lookalike dot), any backslash, other schemes (javascript:,
// data:, ftp:, ...), scheme-relative "//host", "https:host", "https:/host",
// empty hosts, hosts that are not plain LDH names (percent-encoded,
// bracketed or malformed ones) and numeric IP forms unless an entry names
// that exact host. In a local path, "//", "/\", "/./" and "/../" (also with
// whitespace between) are rejected anywhere before the query, and the
// target is percent-decoded up to maxDecodes times: if any decoded layer
// holds a control character or backslash, or its path no longer starts with
// a single "/" or contains such a slash trick, the target is rejected
// ("/%2F%2Fevil.com", "/%5Cevil.com", "/%252F%252Fevil.com").
//
// Check performs no I/O.
func (v *Validator) Check(rd string) (target string, ok bool) {
	if rd == "" || len(rd) > MaxLength {
		return "", false
	}
	for i := 0; i < len(rd); i++ {
		if c := rd[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "", false
		}
	}
	if _, ok := unescape(rd); !ok { // malformed escapes
		return "", false
	}
	if rd[0] == '/' {
		if !v.checkLocal(rd) {
			return "", false
		}
		return rd, true
	}
	return v.checkAbsolute(rd)
}

func (v *Validator) checkLocal(rd string) bool {
	return !slashTrick(pathPart(rd)) && decodesSafely(rd, func(layer string) bool {
		return layer != "" && layer[0] == '/' && !slashTrick(pathPart(layer))
	})
}

// decodesSafely peels up to maxDecodes layers of percent-encoding off s and
// reports whether no decoded layer holds a backslash or control character
// (which a browser may act on once it decodes the target) and every decoded
// layer passes also (when not nil).
func decodesSafely(s string, also func(layer string) bool) bool {
	for range maxDecodes {
		next, ok := unescape(s)
		if !ok || next == s {
			break
		}
		if strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
			return false
		}
		if also != nil && !also(next) {
			return false
		}
		s = next
	}
	return true
}

func (v *Validator) checkAbsolute(rd string) (string, bool) {
	i := strings.Index(rd, "://")
	if i <= 0 {
		return "", false // relative paths, "https:evil.com", "javascript:..."
	}
	scheme := strings.ToLower(rd[:i])
	if scheme != "https" && (scheme != "http" || v.httpsOnly) {
		return "", false
	}
	rest := rd[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, port, ok := splitAuthority(rest[:end])
	if !ok {
		return "", false
	}
	if host, ok = canonicalHostname(host); !ok || !v.allowed(scheme, host, port) {
		return "", false
	}
	tail := rest[end:]
	// Decoding cannot move the authority (it holds no '%'), but a decoded
	// control character or backslash has no business in a target.
	if !decodesSafely(tail, nil) {
		return "", false
	}
	authority := host
	if port != "" {
		authority += ":" + port
	}
	target := scheme + "://" + authority + tail
	// Belt and braces: the standard parser must agree on the host.
	u, err := url.Parse(target)
	if err != nil || u.User != nil || u.Host != authority || !strings.EqualFold(u.Scheme, scheme) {
		return "", false
	}
	return target, true
}

// allowed reports whether host:port may be redirected to over scheme.
func (v *Validator) allowed(scheme, host, port string) bool {
	def := defaultPort(scheme)
	effective := port
	if effective == "" {
		effective = def
	}
	if v.publicHost != "" && host == v.publicHost && (effective == def || effective == v.publicPort) {
		return true
	}
	for _, e := range v.entries {
		want := e.port
		if want == "" {
			want = def
		}
		if effective != want {
			continue
		}
		if e.apex && host == e.host {
			return true
		}
		if e.subdomains && strings.HasSuffix(host, "."+e.host) {
			return true // canonicalHostname forbids empty labels, so this is a label boundary
		}
	}
	return false
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// splitAuthority splits "host" or "host:port". It refuses userinfo,
// percent-encoding, IP-literal brackets and any port that is not 1–65535 in
// plain decimal.
func splitAuthority(a string) (host, port string, ok bool) {
	if a == "" || strings.ContainsAny(a, "@%[]") {
		return "", "", false
	}
	host, port, hasPort := strings.Cut(a, ":")
	if !hasPort {
		return host, "", true
	}
	if port == "" || len(port) > 5 || port[0] == '0' {
		return "", "", false
	}
	n := 0
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", "", false
		}
		n = n*10 + int(port[i]-'0')
	}
	return host, port, n <= 65535
}

// canonicalHostname lower-cases h, drops one trailing dot and accepts only a
// DNS name of LDH labels (ASCII letters, digits, hyphens; punycode "xn--"
// labels are plain LDH and match only what an entry names).
func canonicalHostname(h string) (string, bool) {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", false
			}
		}
	}
	return h, true
}

// pathPart is s up to its query or fragment.
func pathPart(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// slashTrick reports whether p holds a '/' or '\' followed by another one,
// either after nothing but whitespace or control characters (which browsers
// may strip) or after "." or "..". It widens oauth2-proxy's
// `[/\\](?:[\s\v]*|\.{1,2})[/\\]` check (CVE-2020-4037) to Unicode spaces and
// to whitespace around the dots.
func slashTrick(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' && p[i] != '\\' {
			continue
		}
		rest := skipSpace(p[i+1:])
		if strings.HasPrefix(rest, "..") {
			rest = skipSpace(rest[2:])
		} else if strings.HasPrefix(rest, ".") {
			rest = skipSpace(rest[1:])
		}
		if rest != "" && (rest[0] == '/' || rest[0] == '\\') {
			return true
		}
	}
	return false
}

func skipSpace(s string) string {
	return strings.TrimLeftFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// unescape decodes every %XX once; ok is false for a malformed escape.
func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := fromHex(s[i+1])
		lo, ok2 := fromHex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
