package session

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
)

const (
	hostPrefix        = "__Host-"
	securePrefix      = "__Secure-"
	defaultCookieName = "_gatehouse"

	// maxCookieBytes bounds name+value of one cookie, below the 4096 octets
	// at which user agents silently drop a cookie (RFC 6265bis).
	maxCookieBytes = 4000
	// maxChunks is how many NAME_i cookies one session may use before Save
	// fails with ErrTooLarge.
	maxChunks = 8
	// maxValueBytes bounds a joined cookie value; longer input is rejected
	// before any decoding work.
	maxValueBytes = maxChunks * maxCookieBytes
	// maxCookieAge is the user agents' cap on Max-Age (RFC 6265bis: 400 days).
	maxCookieAge = 400 * 24 * time.Hour
)

// CookieName returns the session cookie's name for c: the configured name
// (default "_gatehouse") with the "__Host-" prefix when the cookie is Secure and
// host-only, "__Secure-" when it is Secure with a Domain, and no prefix when it
// is not Secure. A prefix already in the configured name (matched without
// regard to case, as browsers do) is not doubled: it is kept, in canonical
// case, when the cookie's attributes satisfy it and replaced when they do not,
// so the returned name is always one a browser will accept.
func CookieName(c config.Cookie) string {
	name := c.Name
	if name == "" {
		name = defaultCookieName
	}
	base, had := splitPrefix(name)
	switch {
	case !c.SecureOrDefault():
		return base
	case c.Domain != "" || had == securePrefix:
		return securePrefix + base
	default:
		return hostPrefix + base
	}
}

// splitPrefix removes a leading __Host- or __Secure- (any case) from name and
// reports which one it was, in canonical case.
func splitPrefix(name string) (base, prefix string) {
	for _, p := range []string{hostPrefix, securePrefix} {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return name[len(p):], p
		}
	}
	return name, ""
}

// attrs are the attributes every cookie of one kind is set (and expired) with,
// so a clearing Set-Cookie always matches the one that set it.
type attrs struct {
	domain   string
	secure   bool
	sameSite http.SameSite
}

func newAttrs(c config.Cookie) (attrs, error) {
	a := attrs{domain: c.Domain, secure: c.SecureOrDefault()}
	switch strings.ToLower(c.SameSite) {
	case "", "lax":
		a.sameSite = http.SameSiteLaxMode
	case "strict":
		a.sameSite = http.SameSiteStrictMode
	case "none":
		if !a.secure {
			return a, fmt.Errorf("session: cookie same_site none requires secure")
		}
		a.sameSite = http.SameSiteNoneMode
	default:
		return a, fmt.Errorf("session: cookie same_site %q: want lax, strict or none", c.SameSite)
	}
	return a, nil
}

// set writes one cookie living for ttl (rounded up to a second, capped at
// 400 days).
func (a attrs) set(w http.ResponseWriter, name, value string, ttl time.Duration) {
	ttl = min(ttl, maxCookieAge)
	secs := int((ttl + time.Second - 1) / time.Second)
	http.SetCookie(w, a.cookie(name, value, max(secs, 1)))
}

// expire writes a Set-Cookie that deletes name: same Name/Path/Domain/Secure,
// empty value, "Max-Age=0" on the wire.
func (a attrs) expire(w http.ResponseWriter, name string) {
	http.SetCookie(w, a.cookie(name, "", -1))
}

func (a attrs) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		Domain:   a.domain,
		MaxAge:   maxAge,
		Secure:   a.secure,
		HttpOnly: true,
		SameSite: a.sameSite,
	}
}

// jar is the request's cookies by exact (case-sensitive) name, values in
// header order. Names are never case-folded, so "__SeCuRe-SID" is not
// "__Secure-SID" (RFC 6265bis; see SECURITY.md R21).
type jar map[string][]string

func readJar(r *http.Request) jar {
	j := jar{}
	for _, c := range r.Cookies() {
		j[c.Name] = append(j[c.Name], c.Value)
	}
	return j
}

func chunkName(name string, i int) string { return name + "_" + strconv.Itoa(i) }

// sessionValues returns the candidate encoded values for name: every cookie
// named exactly name, then the concatenation of name_0, name_1, … up to the
// first gap, and, when some name_i comes with a second distinct value, the
// other concatenations two chunk sets of any lengths can form (see the
// candidates below; a third distinct value for any name_i is ErrInvalid). A missing, extra or foreign chunk yields a candidate whose
// MAC fails, never a partial session. Oversized candidates are dropped; no
// candidate at all is ErrNoSession (ErrInvalid when only oversized or
// broken ones were there). It scans the Cookie headers once, parsing each
// cookie exactly as net/http does (trimmed, optionally quoted, valid bytes
// only; its fuzz target compares it with net/http's r.Cookies()), and
// allocates only the result. It runs on every request.
func sessionValues(r *http.Request, name string) ([]string, error) {
	lines := r.Header["Cookie"]
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
	}
	if count > maxScannedCookies {
		return nil, ErrNoSession // past net/http's cookie limit it sees none
	}
	var (
		exact    []string
		exactAny bool // a cookie named name, even an oversized one
		// chunks[0][i] is the first value of name_i, chunks[1][i] the second
		// distinct one (else the first again): two chunk sets, such as the
		// user's and one a sibling subdomain planted, become two candidates
		// for the caller's different-users check instead of the first set
		// silently winning.
		chunks  [2][maxChunks + 1]string
		present [maxChunks + 1]bool
		twoSets bool
	)
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			if !strings.HasPrefix(part, name) {
				continue // cheap reject; the name is checked exactly below
			}
			k, v, _ := strings.Cut(part, "=")
			k = textproto.TrimString(k)
			i := -1
			if k != name {
				if i = chunkIndex(k, name); i < 0 {
					continue
				}
			}
			v, ok := cookieValue(v)
			if !ok {
				continue
			}
			switch {
			case i < 0:
				exactAny = true
				if len(v) <= maxValueBytes {
					exact = append(exact, v)
				}
			case !present[i]:
				present[i], chunks[0][i], chunks[1][i] = true, v, v
			case v == chunks[0][i] || v == chunks[1][i]:
			case chunks[1][i] == chunks[0][i]:
				chunks[1][i], twoSets = v, true
			default:
				return nil, ErrInvalid // a third value for one chunk: no set can be trusted
			}
		}
	}
	out := exact
	if present[0] {
		n := 0 // name_0 … name_{n-1}: up to the first gap
		for n <= maxChunks && present[n] {
			n++
		}
		// With two sets of different lengths, the chunks past the shorter
		// set belong to the longer one only: the shorter set is the second
		// values cut at the first chunk that has none (cut), or the first
		// values cut there. So with two sets the candidates are both sets
		// whole and both cut, and the caller sees both sessions whatever
		// their lengths and order.
		cut := n
		for i := 0; twoSets && i < n; i++ {
			if chunks[1][i] == chunks[0][i] {
				cut = i
				break
			}
		}
		if n <= maxChunks { // name_maxChunks present: too many, none
			first := len(out)
			out = appendJoined(out, first, chunks[0][:n])
			if twoSets {
				out = appendJoined(out, first, chunks[1][:n])
				if cut < n {
					out = appendJoined(out, first, chunks[0][:cut])
					out = appendJoined(out, first, chunks[1][:cut])
				}
			}
		}
	}
	if len(out) == 0 {
		if exactAny || present[0] {
			return nil, ErrInvalid
		}
		return nil, ErrNoSession
	}
	return out, nil
}

// appendJoined appends the concatenation of parts as a candidate, unless it
// is empty, too long, or already among out[first:].
func appendJoined(out []string, first int, parts []string) []string {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	if size == 0 || size > maxValueBytes {
		return out
	}
	v := strings.Join(parts, "")
	if slices.Contains(out[first:], v) {
		return out
	}
	return append(out, v)
}

// maxScannedCookies is net/http's default limit of cookies per request
// (GODEBUG httpcookiemaxnum); beyond it net/http, and sessionValues, see none.
// With a lower limit set through GODEBUG, sessionValues still finds the
// session in a request with more cookies than that, where net/http would
// see none: a client only controls its own cookies, so this grants nothing.
const maxScannedCookies = 3000

// chunkIndex returns i when k is chunkName(name, i) for 0 ≤ i ≤ maxChunks,
// else -1.
func chunkIndex(k, name string) int {
	if len(k) < len(name)+2 || k[:len(name)] != name || k[len(name)] != '_' {
		return -1
	}
	digits := k[len(name)+1:]
	if len(digits) > 1 && digits[0] == '0' {
		return -1 // chunkName never writes leading zeros
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i < 0 || i > maxChunks || strconv.Itoa(i) != digits {
		return -1
	}
	return i
}

// cookieValue parses a cookie value as net/http does: surrounding double
// quotes are dropped, and any byte outside the cookie-octet set rejects it.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if !cookieOctet[raw[i]] {
			return "", false
		}
	}
	return raw, true
}

// cookieOctet is net/http's validCookieValueByte as a table: the session
// value is ~600 bytes, checked on every request.
var cookieOctet = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '"' && b != ';' && b != '\\'
	}
	return t
}()

// present lists name and its chunk names that the request carries.
func (j jar) present(name string) []string {
	var out []string
	if _, ok := j[name]; ok {
		out = append(out, name)
	}
	for i := range maxChunks + 1 {
		if _, ok := j[chunkName(name, i)]; ok {
			out = append(out, chunkName(name, i))
		}
	}
	return out
}

// split cuts value into the cookies that carry it: one cookie named name when
// name+value fit in maxCookieBytes, else name_0 … name_(n-1). More than
// maxChunks is ErrTooLarge: nothing is ever dropped to make it fit.
func split(name, value string) ([][2]string, error) {
	if len(name)+len(value) <= maxCookieBytes {
		return [][2]string{{name, value}}, nil
	}
	per := maxCookieBytes - len(chunkName(name, maxChunks-1))
	n := (len(value) + per - 1) / per
	if per <= 0 || n > maxChunks {
		return nil, fmt.Errorf("%w: cookie value is %d bytes, limit %d cookies", ErrTooLarge, len(value), maxChunks)
	}
	out := make([][2]string, 0, n)
	for i := 0; i < n; i++ {
		end := min((i+1)*per, len(value))
		out = append(out, [2]string{chunkName(name, i), value[i*per : end]})
	}
	return out, nil
}

// write sets value under name (chunked when needed) and expires any cookie
// of the name family the request still carries that this write does not
// replace, such as chunks from a previously larger session. On ErrTooLarge
// nothing is written.
func (a attrs) write(w http.ResponseWriter, r *http.Request, name, value string, ttl time.Duration) error {
	parts, err := split(name, value)
	if err != nil {
		return err
	}
	used := make(map[string]bool, len(parts))
	for _, p := range parts {
		a.set(w, p[0], p[1], ttl)
		used[p[0]] = true
	}
	for _, n := range readJar(r).present(name) {
		if !used[n] {
			a.expire(w, n)
		}
	}
	return nil
}

// clear expires name and every chunk of it that the request carries.
func (a attrs) clear(w http.ResponseWriter, r *http.Request, name string) {
	a.expire(w, name)
	for _, n := range readJar(r).present(name) {
		if n != name {
			a.expire(w, n)
		}
	}
}
