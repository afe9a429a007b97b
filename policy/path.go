package policy

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPath is wrapped by every error NormalizePath returns; the adapter
// answers 400. ErrAmbiguousPath is wrapped too when the path is well-formed
// but could mean different things to gatehouse and to the upstream.
var (
	ErrInvalidPath   = errors.New("policy: invalid request path")
	ErrAmbiguousPath = errors.New("policy: ambiguous request path")
)

func invalidPath(why string) error { return fmt.Errorf("%w: %s", ErrInvalidPath, why) }

func ambiguousPath(why string) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalidPath, ErrAmbiguousPath, why)
}

// NormalizePath turns a request's escaped path (r.URL.EscapedPath(), or the
// path part of X-Forwarded-Uri; never with the query) into the one path that
// the rules judge and that the upstream receives, byte for byte. The output is
// escaped: set it as the request's RawPath (and its decoding as Path).
//
// Rules, in order:
//   - The input must start with "/". Raw control characters, raw '\', raw
//     '?' or '#', and malformed escapes ("%", "%4", "%zz") are errors.
//   - An encoded '#' (%23) ends the path: what follows is dropped from both
//     the judged and the forwarded path, so "/public/secret%23/endpoint"
//     becomes "/public/secret" (SECURITY.md A073: a fragment-like suffix
//     must not make a regex rule match). What follows must still pass the
//     rules below, and a dot segment there is ambiguous
//     ("/public%23/../admin" is /admin to nginx, which decodes first).
//   - Escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded; the
//     hex of every other escape is upper-cased; %25 stays %25 (one decoding
//     only, so "%252e" is never a dot). Raw bytes outside RFC 3986's pchar
//     set (spaces, quotes, non-ASCII, ...) are percent-encoded, except '['
//     and ']', which are kept as Go's net/url keeps them.
//   - %2F and %5C stay encoded and never split a segment. A segment is
//     ambiguous (ErrAmbiguousPath) when splitting it at them would leave an
//     empty piece or a dot segment ("..%2Fadmin", "%2F..%2F", "%2Fadmin",
//     "a%5C%5Cb"); so is any %00, and any ';' or %3B: servlet containers
//     cut ";params" off segments before routing ("..;" is even a dot
//     segment to Tomcat), so the upstream would route another path.
//   - Duplicate slashes are merged, then dot segments (including %2E forms)
//     are resolved as in RFC 3986 §5.2.4, never above the root.
//   - A trailing slash is kept ("/a/" stays "/a/"; "/a/b/.." becomes "/a/").
//
// NormalizePath is idempotent, performs no I/O, and its output starts with
// "/" and contains no "//" and no "." or ".." segment.
func NormalizePath(escaped string) (string, error) {
	if simplePath(escaped) {
		return escaped, nil // already normal: nothing to decode, clean or copy
	}
	return normalizePath(escaped)
}

// simplePath reports whether p is already in NormalizePath's output form
// and needs no work: it starts with "/", every byte is a plain pchar (no
// percent-encoding, nothing to escape, no ':'), no segment is empty (but the
// last), and none starts with a dot. Most request paths are.
func simplePath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '/' {
			if c == '%' || c == ';' || c == ':' || !isPchar(c) {
				return false // ':' may name an NTFS stream: the full rules decide
			}
			continue
		}
		seg := p[i+1:]
		if j := strings.IndexByte(seg, '/'); j >= 0 {
			seg = seg[:j]
			if seg == "" {
				return false // "//"
			}
		}
		if seg != "" && seg[0] == '.' {
			return false // "." or "..", maybe with a ;parameter: the full rules decide
		}
	}
	return true
}

func normalizePath(escaped string) (string, error) {
	if escaped == "" || escaped[0] != '/' {
		return "", invalidPath("path must start with /")
	}
	end := len(escaped)
	for i := 0; i < len(escaped); i++ {
		switch c := escaped[i]; {
		case c < 0x20 || c == 0x7f:
			return "", invalidPath("control character")
		case c == '\\':
			return "", invalidPath("backslash")
		case c == '?' || c == '#':
			return "", invalidPath("query or fragment in path")
		case c == '%':
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return "", invalidPath("malformed percent-encoding")
			}
			if end == len(escaped) && escaped[i+1] == '2' && escaped[i+2] == '3' {
				end = i
			}
			i += 2
		}
	}
	if end < len(escaped) {
		if err := checkAfterHash(escaped[end:]); err != nil {
			return "", err
		}
		// The segment the '#' cuts must not become a dot segment either:
		// /admin/..%23/x would be judged as / while a server that decodes
		// the '#' serves /admin/..#/x, under /admin/.
		cut := escaped[strings.LastIndexByte(escaped[:end], '/')+1 : end]
		if seg, err := canonicalSegment(cut); err == nil && (seg == "." || seg == "..") {
			return "", ambiguousPath("dot segment cut by an encoded '#'")
		}
	}
	segs := strings.Split(escaped[1:end], "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		seg, err := canonicalSegment(s)
		if err != nil {
			return "", err
		}
		if dotsAndSpaces(seg) {
			// Windows drops trailing spaces: "..%20" would climb a level
			// there and nowhere else. No real name is only dots and spaces.
			return "", ambiguousPath("segment of dots and spaces")
		}
		if ntfsStream(seg) {
			// NTFS names a file's streams "name::$TYPE": IIS serves
			// /admin::$INDEX_ALLOCATION/x as /admin/x, a path the rules
			// would judge as outside /admin.
			return "", ambiguousPath("NTFS stream name")
		}
		switch seg {
		case "", ".":
			trailing = last
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = last
		default:
			out = append(out, seg)
			trailing = false
		}
	}
	n := 1 + len(out)
	for _, s := range out {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range out {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if len(out) == 0 || trailing {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// checkAfterHash checks what follows an encoded '#' (tail starts at the
// %23) before NormalizePath drops it. Gatehouse cuts the path there, but in
// forward-auth mode the upstream gets the original path, and nginx (and any
// server that decodes before resolving dot segments) reads
// "/public%23/../admin" as "/admin": a dot segment after the cut, or any
// segment the full rules find ambiguous, would let the judged path and the
// served one part ways, so the path is ambiguous.
func checkAfterHash(tail string) error {
	for i, s := range strings.Split(tail, "/") {
		seg, err := canonicalSegment(s)
		if err != nil {
			return err
		}
		if i > 0 && (seg == "." || seg == "..") {
			return ambiguousPath("dot segment after an encoded '#'")
		}
	}
	return nil
}

// canonicalSegment decodes unreserved escapes, upper-cases the others,
// encodes raw bytes outside pchar, and rejects ambiguous segments. The input
// has already been checked for controls, '\', '?', '#' and bad escapes.
func canonicalSegment(s string) (string, error) {
	var b []byte // nil until the segment differs from s
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				if b == nil {
					b = append(make([]byte, 0, len(s)), s[:i]...)
				}
				b = append(b, v)
			} else {
				esc := [3]byte{'%', upperHex[v>>4], upperHex[v&15]}
				if b == nil && (esc[1] != s[i+1] || esc[2] != s[i+2]) {
					b = append(make([]byte, 0, len(s)), s[:i]...)
				}
				if b != nil {
					b = append(b, esc[:]...)
				}
			}
			i += 2
		case isPchar(c):
			if b != nil {
				b = append(b, c)
			}
		default:
			if b == nil {
				b = append(make([]byte, 0, len(s)+2), s[:i]...)
			}
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	seg := s
	if b != nil {
		seg = string(b)
	}
	if strings.Contains(seg, "%00") {
		return "", ambiguousPath("encoded NUL")
	}
	// Servlet containers (Tomcat, Jetty) and Spring cut ";params" off each
	// segment before routing, so "/admin;x/users" is /admin/users to them
	// but not to a prefix rule, and "/files/a.txt;.pdf" would satisfy a
	// "\.pdf$" regex while serving a.txt. Like Spring Security's
	// StrictHttpFirewall, any ';' (raw or %3B) makes the path ambiguous.
	if strings.IndexByte(seg, ';') >= 0 || strings.Contains(seg, "%3B") {
		return "", ambiguousPath("';' path parameter")
	}
	if strings.Contains(seg, "%2F") || strings.Contains(seg, "%5C") {
		rest := seg
		for {
			i2, i5 := strings.Index(rest, "%2F"), strings.Index(rest, "%5C")
			cut := i2
			if cut < 0 || (i5 >= 0 && i5 < cut) {
				cut = i5
			}
			piece := rest
			if cut >= 0 {
				piece = rest[:cut]
			}
			if piece == "" || piece == "." || piece == ".." {
				return "", ambiguousPath("encoded slash or backslash next to an empty or dot segment")
			}
			if cut < 0 {
				break
			}
			rest = rest[cut+3:]
		}
	}
	return seg, nil
}

const upperHex = "0123456789ABCDEF"

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPchar: unreserved, sub-delims, ':' and '@' (RFC 3986), plus '[' and ']'.
func isPchar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	return strings.IndexByte("!$&'()*+,;=:@[]", c) >= 0
}

// CanonicalHost lower-cases the ASCII letters of a Host value, strips the host
// name's trailing dots ("Example.COM.:8443" → "example.com:8443") and keeps
// the port. It does no Unicode case folding and no IDNA mapping. It returns its
// input unchanged when there is nothing to change.
func CanonicalHost(hostport string) string {
	h := asciiLower(hostport)
	host, port := splitHostPort(h)
	trimmed := strings.TrimRight(host, ".")
	if trimmed == host {
		return h
	}
	if port != "" || strings.HasSuffix(h, ":") {
		return trimmed + ":" + port
	}
	return trimmed
}

// HostWithoutPort is hostport's host as the rules see it: the port dropped,
// an IPv6 literal keeping its brackets, so "[::1]:8443" and "[::1]" are
// both "[::1]" (net.SplitHostPort would give "::1" for one and fail on the
// other).
func HostWithoutPort(hostport string) string {
	host, _ := splitHostPort(hostport)
	return host
}

// ValidMethod reports whether m is an RFC 9110 token with no lower-case
// letters: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE and
// extension methods such as PROPFIND or M-SEARCH. "get" and "GETz" are
// invalid; adapters answer 400 rather than let a case variant slip past a
// per-method rule (SECURITY.md A077).
func ValidMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// segmentEnds calls f with the end of each segment of a folded path: before
// each '/' and each %2f or %5c (separators to the many upstreams that decode
// them, as prefixMatch treats them), and at the end.
func segmentEnds(path string, f func(start, end int)) {
	start := 0
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '/':
			f(start, i)
			start = i + 1
		case path[i] == '%' && i+2 < len(path) && (path[i+1:i+3] == "2f" || path[i+1:i+3] == "5c"):
			f(start, i)
			start = i + 3
			i += 2
		}
	}
	f(start, len(path))
}

// trimmedEnd is seg without the dots and spaces (%20) that end it, or seg
// itself when it has nothing else (such a name is not trimmed by Windows).
func trimmedEnd(seg string) string {
	t := seg
	for {
		switch {
		case strings.HasSuffix(t, "."):
			t = t[:len(t)-1]
		case strings.HasSuffix(t, "%20"):
			t = t[:len(t)-3]
		case t == "":
			return seg
		default:
			return t
		}
	}
}

// hasTrailingDotOrSpace reports whether a segment of a folded path ends in
// a dot or an (encoded) space that Windows would drop.
func hasTrailingDotOrSpace(path string) bool {
	if strings.IndexByte(path, '.') < 0 && !strings.Contains(path, "%20") {
		return false // most paths: two vectorised scans
	}
	found := false
	segmentEnds(path, func(start, end int) {
		if seg := path[start:end]; !found && len(trimmedEnd(seg)) != len(seg) {
			found = true
		}
	})
	return found
}

// trimTrailingDotsAndSpaces is path with each segment's trailing dots and
// spaces removed, as Windows names it: "/admin.%20./x" is "/admin/x".
func trimTrailingDotsAndSpaces(path string) string {
	var b strings.Builder
	b.Grow(len(path))
	last := 0
	segmentEnds(path, func(start, end int) {
		seg := path[start:end]
		b.WriteString(path[last:start])
		b.WriteString(trimmedEnd(seg))
		last = end
	})
	b.WriteString(path[last:])
	return b.String()
}

// dotsAndSpaces reports whether a canonical segment is made of dots and
// encoded spaces only, with at least one of each ("..%20", "%20.").
func dotsAndSpaces(seg string) bool {
	dots, spaces := false, false
	for i := 0; i < len(seg); i++ {
		switch {
		case seg[i] == '.':
			dots = true
		case strings.HasPrefix(seg[i:], "%20"):
			spaces = true
			i += 2
		default:
			return false
		}
	}
	return dots && spaces
}

// ntfsStream reports whether a canonical segment names an NTFS stream: a
// ':' right before a '$', each raw or percent-encoded as canonicalSegment
// leaves them (%3A, %24).
func ntfsStream(seg string) bool {
	colon := false
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c == '%' && i+2 < len(seg) {
			switch seg[i+1 : i+3] {
			case "3A":
				c = ':'
				i += 2
			case "24":
				c = '$'
				i += 2
			}
		}
		if c == '$' && colon {
			return true
		}
		colon = c == ':'
	}
	return false
}
