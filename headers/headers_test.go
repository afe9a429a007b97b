package headers

import (
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/identity"
)

func TestIsReserved(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Forwarded-Email": true, "x-forwarded-email": true, "X_Forwarded_Email": true, " X-Forwarded-Email": true,
		"X-Auth-Request-Anything": true, "x_auth_request_user": true, "X-Gatehouse-Assertion": true,
		"X-Http-Method-Override": true, "X-Forwarded-For": false, "Accept": false, "X-Forwarded-Emails": false,
	} {
		if got := IsReserved(name); got != want {
			t.Errorf("IsReserved(%q) = %v, want %v", name, got, want)
		}
	}
}

// Every spelling of every reserved name is caught, whatever the fast
// paths in IsReserved decide first.
func TestIsReservedEverySpelling(t *testing.T) {
	names := []string{"x-auth-request-user", "x-auth-request-whatever"}
	for n := range reservedHeaders {
		names = append(names, n)
	}
	for _, n := range names {
		for _, k := range []string{n, strings.ToUpper(n), textproto.CanonicalMIMEHeaderKey(n), strings.ReplaceAll(n, "-", "_"),
			" " + n, "\t" + strings.ToUpper(n) + " ", strings.ReplaceAll(textproto.CanonicalMIMEHeaderKey(n), "-", "_")} {
			if !IsReserved(k) {
				t.Errorf("IsReserved(%q) = false", k)
			}
		}
	}
}

func TestCleanUpstream(t *testing.T) {
	h := http.Header{
		"X-Forwarded-User": {"evil"}, "X_forwarded_for": {"1.2.3.4"}, "X-Real-Ip": {"1.2.3.4"},
		"X-Forwarded-Port": {"443"}, "Accept": {"*/*"},
		// Read by frameworks and IP libraries though gatehouse never sets them.
		"X-Forwarded-Scheme": {"https"}, "X_Forwarded_Path": {"/admin"}, "X-Client-Ip": {"10.0.0.1"},
		"Cf-Connecting-Ip": {"10.0.0.1"}, "X-Url-Scheme": {"https"}, "X-Host": {"admin.test"},
	}
	trusted := h.Clone()
	Strip(h)
	StripForwarding(h, false)
	if len(h) != 1 || h.Get("Accept") == "" {
		t.Fatalf("untrusted: %v", h)
	}
	Strip(trusted)
	StripForwarding(trusted, true)
	if trusted.Get("X-Real-Ip") == "" || trusted.Get("X-Forwarded-Port") == "" || trusted["X_forwarded_for"] != nil || trusted.Get("X-Forwarded-User") != "" {
		t.Fatalf("trusted: %v", trusted)
	}
}

func TestSetIdentityNeverInjects(t *testing.T) {
	h := http.Header{}
	ValuesOf(&identity.Identity{Subject: "s", User: "bob\r\nX-Admin: 1", Groups: []string{"a", "b,c", "d\n"}}).SetIdentity(h)
	if got := h.Get(User); got != "bobX-Admin: 1" {
		t.Fatalf("user %q", got)
	}
	if got := h.Get(Groups); got != "a" {
		t.Fatalf("groups %q: ambiguous or control-character values must be dropped", got)
	}
}
