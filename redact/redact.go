// Package redact keeps secrets out of logs: it rewrites a URL or a raw query
// string with the values of sensitive parameters (OAuth codes and tokens,
// passwords, one-time codes, API keys, signatures, session identifiers)
// replaced by REDACTED, also inside values that are URLs or query strings
// themselves, such as a sign-in page's rd. It is for log lines only: the
// result is not meant to be requested.
package redact

import (
	"net/url"
	"strings"
)

// sensitiveParams are parameter names (lower case) whose values never reach
// the log: OAuth and OIDC codes and tokens, passwords and one-time codes,
// CSRF and session identifiers, API keys, signed-URL signatures and SAML
// messages.
var sensitiveParams = map[string]bool{
	"code": true, "state": true, "otp": true, "totp": true, "pin": true, "pwd": true,
	"csrf": true, "xsrf": true, "sid": true, "ticket": true,
	"key": true, "sig": true, "jwt": true, "auth": true, "authorization": true,
	"samlresponse": true, "samlrequest": true,
}

// sensitiveParts make any parameter whose name contains one of them
// sensitive, so that the variants apps invent (X-Amz-Signature,
// client_secret, user[password], jsessionid, oauth_verifier) need no entry
// of their own. Redacting a harmless parameter costs only log detail.
var sensitiveParts = []string{
	"token", "secret", "passw", "signature", "credential", "assertion",
	"session", "sessid", "verifier", "apikey", "api_key", "api-key",
}

// sensitiveParam reports whether the value of the (decoded) parameter name
// must be redacted; names match case-insensitively.
func sensitiveParam(name string) bool {
	lower := name
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			lower = strings.ToLower(name)
			break
		}
	}
	if sensitiveParams[lower] {
		return true
	}
	for _, part := range sensitiveParts {
		if strings.Contains(lower, part) {
			return true
		}
	}
	// private_key, access-key, …; but not "monkey".
	return strings.HasSuffix(lower, "_key") || strings.HasSuffix(lower, "-key") || strings.HasSuffix(lower, ".key")
}

// redacted replaces a sensitive value in the log.
const redacted = "REDACTED"

// maxRedactDepth bounds how deep redaction follows URLs nested in values
// (rd=/a?next=/b?token=…); a value nested deeper that could hold a query is
// redacted whole.
const maxRedactDepth = 4

// Query returns a URL's raw query for the log with the value of every
// sensitive parameter replaced by REDACTED. Values that are themselves URLs
// or query strings are redacted the same way, recursively: the sign-in page's
// rd carries the URL the visitor asked for, query and all
// (rd=%2Freports%3Faccess_token%3D…), and redacting only top-level names
// logged such secrets in full. Both & and ; separate parameters, since some
// applications split on either. A key or value whose escapes cannot be
// decoded has its value redacted, since what the application reads from it
// is unknown. Everything else keeps its encoding and order, and a query with
// nothing to redact is returned as it is, without allocating.
func Query(raw string) string {
	out, _ := redactQueryAt(raw, 0)
	return out
}

// URL is redactQuery for a whole URL or redirect target, as logged
// when a redirect is refused: credentials in its authority
// (https://user:pass@host), its query and a fragment that holds parameters
// (#access_token=…) are redacted.
func URL(s string) string {
	out, _ := redactNested(s, 0)
	return out
}

// redactQueryAt redacts raw, nested depth levels deep, and reports whether
// it changed anything.
func redactQueryAt(raw string, depth int) (string, bool) {
	var b strings.Builder
	changed := false
	for start := 0; start < len(raw); {
		end := start + strings.IndexAny(raw[start:], "&;")
		if end < start {
			end = len(raw)
		}
		pair := raw[start:end]
		k, v, _ := strings.Cut(pair, "=")
		repl, replace := redactValue(k, v, depth)
		if replace && !changed {
			changed = true
			b.Grow(len(raw) + len(redacted))
			b.WriteString(raw[:start])
		}
		if changed {
			if replace {
				b.WriteString(k)
				b.WriteByte('=')
				b.WriteString(repl)
			} else {
				b.WriteString(pair)
			}
			if end < len(raw) {
				b.WriteByte(raw[end])
			}
		}
		start = end + 1
	}
	if !changed {
		return raw, false
	}
	return b.String(), true
}

// redactValue decides one parameter (raw key k, raw value v): the encoded
// value to log instead of v, if it must change.
func redactValue(k, v string, depth int) (string, bool) {
	if v == "" {
		return "", false
	}
	name, err := url.QueryUnescape(k) // no allocation without escapes
	if err != nil || sensitiveParam(name) {
		return redacted, true
	}
	if !strings.ContainsAny(v, "%?=#") {
		return "", false // plain text: neither a URL with a query nor a query
	}
	val, err := url.QueryUnescape(v)
	if err != nil {
		return redacted, true
	}
	if out, changed := redactNested(val, depth+1); changed {
		return url.QueryEscape(out), true
	}
	return "", false
}

// redactNested redacts a decoded value that may be a URL (with userinfo, a
// query or a fragment) or a bare query string, depth levels deep.
func redactNested(v string, depth int) (string, bool) {
	if !strings.ContainsAny(v, "?=#@") {
		return v, false
	}
	if depth > maxRedactDepth {
		return redacted, true
	}
	head, frag, hasFrag := strings.Cut(v, "#")
	head, query, hasQuery := strings.Cut(head, "?")
	head, changed := redactUserinfo(head)
	switch {
	case hasQuery:
		if q, ch := redactQueryAt(query, depth); ch {
			query, changed = q, true
		}
		head += "?" + query
	case strings.Contains(head, "="):
		// No "?": the value may be a query string itself (a=1&token=…).
		if h, ch := redactQueryAt(head, depth); ch {
			head, changed = h, true
		}
	}
	return joinFragment(head, frag, hasFrag, depth, changed)
}

// joinFragment appends the fragment, redacted like a query when it holds
// parameters (the implicit flow returns tokens in it).
func joinFragment(s, frag string, hasFrag bool, depth int, changed bool) (string, bool) {
	if !hasFrag {
		return s, changed
	}
	if strings.Contains(frag, "=") {
		if f, ch := redactQueryAt(frag, depth); ch {
			frag, changed = f, true
		}
	}
	return s + "#" + frag, changed
}

// redactUserinfo replaces the user and password of a URL (scheme://user:pw@
// or //user:pw@) with REDACTED.
func redactUserinfo(s string) (string, bool) {
	i := strings.Index(s, "//")
	if i < 0 || !isSchemePrefix(s[:i]) {
		return s, false
	}
	auth := s[i+2:]
	if j := strings.IndexAny(auth, "/\\"); j >= 0 {
		auth = auth[:j]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return s, false
	}
	return s[:i+2] + redacted + s[i+2+at:], true
}

// isSchemePrefix reports whether p is "" or "scheme:".
func isSchemePrefix(p string) bool {
	if p == "" {
		return true
	}
	if len(p) < 2 || p[len(p)-1] != ':' {
		return false
	}
	for i := 0; i < len(p)-1; i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
