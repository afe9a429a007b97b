// Package headers owns the identity and forwarding headers gatehouse sets
// and the rules for removing every client-sent copy of them: names are
// compared normalised (case-insensitive, '_' = '-', surrounding blanks
// ignored), so no spelling of X-Forwarded-Email survives from a client.
package headers

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// Identity headers gatehouse sets. A client must never be able to supply any
// of them: stripClientIdentity removes every copy, in any spelling, on every
// route (public ones too), before anything else looks at the request.
const (
	User              = "X-Forwarded-User"
	Email             = "X-Forwarded-Email"
	PreferredUsername = "X-Forwarded-Preferred-Username"
	Groups            = "X-Forwarded-Groups"
	Roles             = "X-Forwarded-Roles"
	AccessToken       = "X-Forwarded-Access-Token"
	Assertion         = "X-Gatehouse-Assertion"

	authReqUser          = "X-Auth-Request-User"
	authReqEmail         = "X-Auth-Request-Email"
	authReqPreferredUser = "X-Auth-Request-Preferred-Username"
	authReqGroups        = "X-Auth-Request-Groups"
	authReqRoles         = "X-Auth-Request-Roles"
)

// reservedHeaders are matched after normaliseHeaderName.
var reservedHeaders = map[string]bool{
	"x-forwarded-user":               true,
	"x-forwarded-email":              true,
	"x-forwarded-preferred-username": true,
	"x-forwarded-groups":             true,
	"x-forwarded-roles":              true,
	"x-forwarded-access-token":       true,
	"x-gatehouse-assertion":          true,
	"x-forwarded-uid":                true,
	"remote-user":                    true,
	"x-remote-user":                  true,
	"x-user":                         true,
	"x-email":                        true,
	// Method overrides would let a client change what the upstream executes
	// after the rules judged another method.
	"x-rewrite-url":          true, // Symfony/IIS path overrides (CVE-2018-14773)
	"x-original-uri":         true,
	"x-http-method-override": true,
	"x-http-method":          true,
	"x-method-override":      true,
}

// normaliseHeaderName folds case, turns '_' into '-' and trims spaces, so
// X_Forwarded_Email, x-forwarded-email and " X-Forwarded-Email" are one name.
func normaliseHeaderName(k string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(k), "_", "-"))
}

// IsReserved reports whether k, in any spelling, is a header only gatehouse may set.
func IsReserved(k string) bool {
	// Every reserved name starts with x- or remote- once normalised, so
	// most headers are told apart by their first byte; blanks and non-ASCII
	// bytes (which strings.TrimSpace may trim) take the general path.
	if k == "" {
		return false
	}
	switch c := k[0]; {
	case c == 'x' || c == 'X' || c == 'r' || c == 'R':
	case c <= ' ' || c >= utf8.RuneSelf:
		return isReservedSlow(k)
	default:
		return false
	}
	var buf nameBuf
	n, ok := buf.normalise(k)
	if !ok {
		return isReservedSlow(k)
	}
	return reservedHeaders[string(n)] || bytes.HasPrefix(n, authRequestPrefix)
}

var authRequestPrefix = []byte("x-auth-request-")

// isReservedSlow is IsReserved for any spelling, by the definition.
func isReservedSlow(k string) bool {
	n := normaliseHeaderName(k)
	return reservedHeaders[n] || strings.HasPrefix(n, "x-auth-request-")
}

// nameBuf holds a normalised header name on the stack.
type nameBuf [48]byte // longer than every name the sets here hold

// normalise is normaliseHeaderName for the usual case, every name net/http
// accepts (letters, digits, '-', '_'), without allocating: the result is
// in b, and a map lookup of string(result) does not copy. It returns false
// for anything else (blanks, non-ASCII bytes, names longer than b), which
// needs normaliseHeaderName.
func (b *nameBuf) normalise(k string) ([]byte, bool) {
	if len(k) > len(b) {
		return nil, false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
		case c == '_':
			c = '-'
		default:
			return nil, false
		}
		b[i] = c
	}
	return b[:len(k)], true
}

// Strip deletes every client-sent identity header (any spelling) from h.
func Strip(h http.Header) {
	for k := range h {
		if IsReserved(k) {
			delete(h, k)
		}
	}
}

// Values are an identity's header values, sanitised and joined once, so
// the requests of one session can share them (see proxy's derived cache).
// Empty values are not sent.
type Values struct {
	v [5]string // user, email, preferred username, groups, roles
}

// ValuesOf computes id's header values.
func ValuesOf(id *identity.Identity) *Values {
	return &Values{v: [5]string{
		headerValue(id.UserName()),
		headerValue(id.Email),
		headerValue(id.PreferredUsername),
		joinList(id.Groups),
		joinList(id.Roles),
	}}
}

// The header maps of many requests share each Values' value slices. That is
// safe because a header's values are replaced (Set, assignment), never
// written into, by gatehouse and by net/http, which copies a response's
// header map when it writes it and a request's when ReverseProxy clones it;
// and each slice is capped at its one element, so an Add elsewhere copies.

var (
	identityNames    = [5]string{User, Email, PreferredUsername, Groups, Roles}
	authRequestNames = [5]string{authReqUser, authReqEmail, authReqPreferredUser, authReqGroups, authReqRoles}
)

// SetIdentity writes the identity for an upstream (proxy mode).
func (v *Values) SetIdentity(h http.Header) { v.set(h, &identityNames) }

// SetAuthRequest writes the identity for a forward-auth response.
func (v *Values) SetAuthRequest(h http.Header) { v.set(h, &authRequestNames) }

// set writes each non-empty value under its name (deleting the name
// otherwise), sharing v's values (see above).
func (v *Values) set(h http.Header, names *[5]string) {
	for i, name := range names {
		if v.v[i] == "" && i > 0 { // the user header is always sent
			delete(h, name)
			continue
		}
		h[name] = v.v[i : i+1 : i+1]
	}
}

// joinList joins with commas; values holding a comma or control character
// are dropped from the header (they would be ambiguous), never split.
func joinList(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	var b strings.Builder
	for _, v := range vals {
		if v == "" || strings.ContainsRune(v, ',') || headerValue(v) != v {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	return b.String()
}

// headerValue removes characters that cannot appear in a header value, so an
// identity claim can never inject a header line.
func headerValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return strings.Map(func(r rune) rune {
				if r < 0x20 && r != '\t' || r == 0x7f {
					return -1
				}
				return r
			}, v)
		}
	}
	return v
}

// forwardingHeaders describe the client's connection or original request.
// Only a trusted proxy may set them; from anyone else (and in any
// non-canonical spelling, even from a trusted proxy) they never reach the
// upstream, so it cannot be misled about the client, the scheme or the path.
//
// Every X-Forwarded-* name counts, not only the ones listed: frameworks read
// more of them than gatehouse sets (Rack believes X-Forwarded-Scheme), and
// so do the client-address headers IP libraries try before X-Forwarded-For
// (X-Client-IP, CF-Connecting-IP, ...), which an upstream may rate-limit or
// allowlist on.
var forwardingHeaders = map[string]bool{
	"x-forwarded-for": true, "x-forwarded-host": true, "x-forwarded-proto": true,
	"x-forwarded-port": true, "x-forwarded-prefix": true, "x-forwarded-uri": true,
	"x-forwarded-method": true, "x-forwarded-server": true, "x-forwarded-ssl": true,
	"x-real-ip": true, "true-client-ip": true, "forwarded": true,
	"x-original-url": true, "x-original-uri": true, "x-original-method": true,
	"x-forwarded": true, "forwarded-for": true, "x-client-ip": true, "client-ip": true,
	"x-cluster-client-ip": true, "cf-connecting-ip": true, "fastly-client-ip": true,
	"x-originating-ip": true, "x-remote-ip": true, "x-remote-addr": true,
	"x-host": true, "x-original-host": true, "x-url-scheme": true, "x-scheme": true,
	"front-end-https": true,
}

// forwardingPrefix: any name under it is a forwarding header (see above).
const forwardingPrefix = "x-forwarded-"

// isForwarding reports whether k, normalised, is a forwarding header.
func isForwarding(k string) bool {
	var buf nameBuf
	if n, ok := buf.normalise(k); ok {
		return forwardingHeaders[string(n)] || bytes.HasPrefix(n, []byte(forwardingPrefix))
	}
	n := normaliseHeaderName(k)
	return forwardingHeaders[n] || strings.HasPrefix(n, forwardingPrefix)
}

// requestOverrides describe another request than the one on the wire. They
// mean something only to the forward-auth endpoint, which reads them itself;
// in proxy mode the rules judged the real request line, so the upstream never
// gets them, not even from a trusted proxy.
var requestOverrides = map[string]bool{
	"x-original-url": true, "x-original-uri": true, "x-original-method": true,
	"x-forwarded-uri": true, "x-forwarded-method": true,
}

var requestOverridesCanonical = func() map[string]bool {
	m := make(map[string]bool, len(requestOverrides))
	for k := range requestOverrides {
		m[textproto.CanonicalMIMEHeaderKey(k)] = true
	}
	return m
}()

// StripForwarding cleans a request bound for an upstream after Strip (which
// every request gets at the door) removed its identity headers: it removes
// forwarding headers unless they came, canonically spelled, from a
// trusted proxy, and request overrides always.
func StripForwarding(h http.Header, trusted bool) {
	for k := range h {
		if trusted && !strings.ContainsAny(k, "_ \t") && textproto.CanonicalMIMEHeaderKey(k) == k {
			if requestOverridesCanonical[k] {
				delete(h, k)
			}
			continue
		}
		if isForwarding(k) {
			delete(h, k)
		}
	}
}
