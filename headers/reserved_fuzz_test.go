package headers

import "testing"

// FuzzIsReserved holds IsReserved's fast paths to the definition: the name
// normalised (trimmed, lower case, '_' as '-') is reserved.
func FuzzIsReserved(f *testing.F) {
	for _, k := range []string{
		"X-Forwarded-Email", "x_forwarded_email", " X-Forwarded-Email\t", "\u00a0X-Forwarded-User", "\u0085x-user",
		"X-Auth-Request-Anything", "X-AUTH-REQUEST-", "Remote-User", "REMOTE_USER\v", "X-Forwarded-For", "Accept",
		"X-Forwarded-Email\u00a0", "x-gatehouse-assertion", "X-Auth-Request-" + "averyveryveryverylongsuffixbeyondthebuffer",
		"", "x", "Ẋ-User", "X-Us\xffer",
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := IsReserved(k), isReservedSlow(k); got != want {
			t.Fatalf("IsReserved(%q) = %v, definition says %v", k, got, want)
		}
	})
}
