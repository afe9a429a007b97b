package headers

import (
	"strings"
	"testing"
)

// FuzzIsReserved holds the allocation-free name normalisation to the
// definition (trimmed, lower case, '_' as '-'): for IsReserved, and for the
// forwarding-header lookup StripForwarding makes.
func FuzzIsReserved(f *testing.F) {
	for _, k := range []string{
		"X-Forwarded-Email", "x_forwarded_email", " X-Forwarded-Email\t", "\u00a0X-Forwarded-User", "x_real_ip", " Forwarded", "X-FORWARDED-FOR", "\u0085x-user",
		"X-Auth-Request-Anything", "X-AUTH-REQUEST-", "Remote-User", "REMOTE_USER\v", "X-Forwarded-For", "Accept",
		"X-Forwarded-Email\u00a0", "x-gatehouse-assertion", "X-Auth-Request-" + "averyveryveryverylongsuffixbeyondthebuffer",
		"", "x", "Ẋ-User", "X-Us\xffer", "X-Forwarded-Scheme", "x_forwarded_" + "averyveryveryverylongsuffixbeyondthebuffer", "CF-Connecting-IP",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := IsReserved(k), isReservedSlow(k); got != want {
			t.Fatalf("IsReserved(%q) = %v, definition says %v", k, got, want)
		}
		n := normaliseHeaderName(k)
		if got, want := isForwarding(k), forwardingHeaders[n] || strings.HasPrefix(n, forwardingPrefix); got != want {
			t.Fatalf("isForwarding(%q) = %v, definition says %v", k, got, want)
		}
	})
}
