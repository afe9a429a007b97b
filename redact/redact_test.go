package redact

import (
	"net/url"
	"strings"
	"testing"
)

// Every secret in these cases contains "SECRET", so a case can also check
// that none survives, whatever the exact output.
func TestRedactQuery(t *testing.T) {
	// nest encodes u as the value of a query parameter once more.
	nest := url.QueryEscape
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"nothing sensitive", "page=2&sort=name", "page=2&sort=name"},
		{"escaped but harmless", "rd=%2Fapp%2Fx&q=a+b", "rd=%2Fapp%2Fx&q=a+b"},
		{"OAuth callback", "code=SECRET1&state=SECRET2&iss=https%3A%2F%2Fidp", "code=REDACTED&state=REDACTED&iss=https%3A%2F%2Fidp"},
		{"names match in any case", "Access_Token=SECRET&ID_TOKEN=SECRET", "Access_Token=REDACTED&ID_TOKEN=REDACTED"},
		{"an escaped name", "access%5Ftoken=SECRET", "access%5Ftoken=REDACTED"},
		{"signed S3 URL", "X-Amz-Algorithm=AWS4&X-Amz-Credential=SECRET%2F20260101&X-Amz-Date=20260101&X-Amz-Signature=SECRET&X-Amz-Security-Token=SECRET",
			"X-Amz-Algorithm=AWS4&X-Amz-Credential=REDACTED&X-Amz-Date=20260101&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED"},
		{"api keys", "api_key=SECRET&apikey=SECRET&key=SECRET&X-API-Key=SECRET&private_key=SECRET",
			"api_key=REDACTED&apikey=REDACTED&key=REDACTED&X-API-Key=REDACTED&private_key=REDACTED"},
		{"signatures", "sig=SECRET&signature=SECRET", "sig=REDACTED&signature=REDACTED"},
		{"PKCE and SAML", "code_verifier=SECRET&SAMLResponse=SECRET&SAMLRequest=SECRET&RelayState=%2Fhome",
			"code_verifier=REDACTED&SAMLResponse=REDACTED&SAMLRequest=REDACTED&RelayState=%2Fhome"},
		{"sessions", "session=SECRET&sessionid=SECRET&JSESSIONID=SECRET&PHPSESSID=SECRET",
			"session=REDACTED&sessionid=REDACTED&JSESSIONID=REDACTED&PHPSESSID=REDACTED"},
		{"tokens by another name", "jwt=SECRET&assertion=SECRET&client_assertion=SECRET&secret=SECRET&auth=SECRET&Authorization=SECRET",
			"jwt=REDACTED&assertion=REDACTED&client_assertion=REDACTED&secret=REDACTED&auth=REDACTED&Authorization=REDACTED"},
		{"form-style names", "user%5Bpassword%5D=SECRET&csrf=SECRET", "user%5Bpassword%5D=REDACTED&csrf=REDACTED"},
		{"lookalikes stay", "monkey=1&keyboard=2&author=3&codec=4", "monkey=1&keyboard=2&author=3&codec=4"},
		{"a name without a value", "token&page=1", "token&page=1"},
		{"semicolons separate too", "a=1;token=SECRET;b=2", "a=1;token=REDACTED;b=2"},

		{"rd holding a path and query", "rd=%2Freports%3Faccess_token%3DSECRETONE%26page%3D2",
			"rd=" + nest("/reports?access_token=REDACTED&page=2")},
		{"redirect holding a URL", "redirect=" + nest("https://app.test/r?id_token=SECRET&x=1"),
			"redirect=" + nest("https://app.test/r?id_token=REDACTED&x=1")},
		{"redirect_uri", "client_id=app&redirect_uri=" + nest("https://app.test/cb?code=SECRET"),
			"client_id=app&redirect_uri=" + nest("https://app.test/cb?code=REDACTED")},
		{"return_to", "return_to=" + nest("/x?password=SECRET"), "return_to=" + nest("/x?password=REDACTED")},
		{"next", "next=" + nest("/x?sig=SECRET"), "next=" + nest("/x?sig=REDACTED")},
		{"any name holding a URL", "continue=" + nest("/x?token=SECRET"), "continue=" + nest("/x?token=REDACTED")},
		{"a URL nested in a URL", "rd=" + nest("/a?next="+nest("/b?token=SECRET&k=v")),
			"rd=" + nest("/a?next="+nest("/b?token=REDACTED&k=v"))},
		{"a fragment with tokens", "rd=" + nest("/cb#access_token=SECRET&token_type=bearer"),
			"rd=" + nest("/cb#access_token=REDACTED&token_type=REDACTED")},
		{"a bare query string", "q=" + nest("a=1&token=SECRET"), "q=" + nest("a=1&token=REDACTED")},
		{"credentials in a URL", "rd=" + nest("https://user:SECRET@app.test/x"), "rd=" + nest("https://REDACTED@app.test/x")},
		{"a nested value's bad escape", "rd=%2Fx%3Ftoken%3DSECRET%zz", "rd=REDACTED"},
		{"a key's bad escape", "tok%zzen=SECRET&page=1", "tok%zzen=REDACTED&page=1"},
		{"the unencoded rest of a URL in a value", "rd=/x?token=SECRET", "rd=" + nest("/x?token=REDACTED")},
	}
	for _, tt := range tests {
		got := Query(tt.in)
		if got != tt.want {
			t.Errorf("%s:\nredactQuery(%q)\n = %q\nwant %q", tt.name, tt.in, got, tt.want)
		}
		if strings.Contains(got, "SECRET") {
			t.Errorf("%s: a secret survived: %q", tt.name, got)
		}
	}
}

func TestRedactQueryNestingIsBounded(t *testing.T) {
	v := "/x?token=SECRET"
	for range 10 {
		v = "/y?rd=" + url.QueryEscape(v)
	}
	q := "rd=" + url.QueryEscape(v)
	if got := Query(q); strings.Contains(got, "SECRET") || !strings.Contains(got, "REDACTED") {
		t.Fatalf("ten levels deep: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain/path", "/plain/path"},
		{"javascript:alert(1)", "javascript:alert(1)"},
		{"http://app.test/r?id_token=SECRET", "http://app.test/r?id_token=REDACTED"},
		{"http://app.test/r?next=%2Fs%3Fcode%3DSECRET", "http://app.test/r?next=" + url.QueryEscape("/s?code=REDACTED")},
		{"https://user:SECRET@evil.test/", "https://REDACTED@evil.test/"},
		{"//user:SECRET@evil.test/?a=1", "//REDACTED@evil.test/?a=1"},
		{"https://evil.test/cb#access_token=SECRET&state=SECRET", "https://evil.test/cb#access_token=REDACTED&state=REDACTED"},
		{"https://evil.test/#section", "https://evil.test/#section"},
		{"/path/user@host", "/path/user@host"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// The access log redacts every request's query: one with nothing to
// redact must cost no allocation (a request without a query never gets
// here at all).
func TestRedactQueryAllocatesNothingWhenNothingChanges(t *testing.T) {
	for _, q := range []string{"page=2&sort=name", "a=1;b=2", "x", "q=hello+world&lang=en"} {
		if n := testing.AllocsPerRun(100, func() { _ = Query(q) }); n != 0 {
			t.Errorf("Query(%q) allocates %v times, want 0", q, n)
		}
	}
}
