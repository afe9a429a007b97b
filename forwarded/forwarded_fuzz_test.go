package forwarded

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

var fuzzTrusted = New([]netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"),
})

// wireValue is v as a header line could carry it: no control characters,
// no surrounding blanks, not empty.
func wireValue(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return "", false
		}
	}
	v = strings.Trim(v, " \t")
	return v, v != ""
}

// FuzzClientIP fuzzes the address that lockout counters and logs key on:
// any RemoteAddr and any X-Forwarded-For lines. clientIP must never panic;
// an untrusted peer's X-Forwarded-For is ignored (the counters cannot be
// reset by rotating it, SECURITY.md A067); from a trusted peer the answer is
// the peer itself or one of the listed addresses.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][2]string{
		{"127.0.0.1:1234", "198.51.100.1"},
		{"127.0.0.1:1234", "198.51.100.1, 10.0.0.2"},
		{"127.0.0.1:1234", "10.0.0.1, 10.0.0.2"},
		{"127.0.0.1:1234", "garbage, 10.0.0.2"},
		{"127.0.0.1:1234", "198.51.100.1\n10.0.0.3"},
		{"[::1]:1234", "::ffff:198.51.100.1"},
		{"[::ffff:127.0.0.1]:1234", "2001:db8::1%eth0"},
		{"203.0.113.9:1234", "127.0.0.1"},
		{"203.0.113.9", "127.0.0.1"},
		{"", ""},
		{"[fe80::1%25eth0]:1", ""},
		{"127.0.0.1:1234", ",,,"},
		{"127.0.0.1:1234", " 198.51.100.1 ,\t10.0.0.2 "},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodGet, "http://auth.example.com/oauth2/sign_in", nil)
		r.RemoteAddr = remote
		var listed []netip.Addr
		for _, line := range strings.Split(xff, "\n") {
			v, ok := wireValue(line)
			if !ok {
				continue
			}
			r.Header.Add("X-Forwarded-For", v)
			for _, e := range strings.Split(v, ",") {
				if a, err := netip.ParseAddr(strings.TrimSpace(e)); err == nil {
					listed = append(listed, a.Unmap())
				}
			}
		}
		got := fuzzTrusted.ClientIP(r)
		peer, ok := peerAddr(r)
		switch {
		case !ok:
			if got.IsValid() {
				t.Fatalf("clientIP(%q, %q) = %v for an unparsable peer", remote, xff, got)
			}
		case !fuzzTrusted.trusts(peer):
			if got != peer {
				t.Fatalf("clientIP(%q, %q) = %v: an untrusted peer's X-Forwarded-For was believed", remote, xff, got)
			}
		case got != peer && !containsAddr(listed, got):
			t.Fatalf("clientIP(%q, %q) = %v: neither the peer nor a listed address", remote, xff, got)
		}
	})
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}
